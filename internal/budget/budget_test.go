package budget

import (
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// wait returns the Exceeded the watcher reports within d, or nil.
func wait(ch <-chan *Exceeded, d time.Duration) *Exceeded {
	select {
	case e := <-ch:
		return e
	case <-time.After(d):
		return nil
	}
}

func watch(t *testing.T, l Limits) <-chan *Exceeded {
	ch := make(chan *Exceeded, 1)
	stop := Watch(l, func(e *Exceeded) { ch <- e })
	t.Cleanup(stop)
	return ch
}

func TestTimeLimit(t *testing.T) {
	ch := watch(t, Limits{Time: 50 * time.Millisecond})
	fast := Enter("environments/fast.cue")
	fast()
	exit := Enter("environments/slow.cue")
	defer exit()
	e := wait(ch, 5*time.Second)
	if e == nil {
		t.Fatal("an evaluation past its time limit was not stopped")
	}
	if e.Limit != "time" || len(e.What) != 1 || e.What[0] != "environments/slow.cue" {
		t.Errorf("exceeded = %+v", e)
	}
	for _, want := range []string{"environments/slow.cue: evaluation stopped after", "--max-eval-time 50ms"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("message %q lacks %q", e.Error(), want)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	base := s[0].Value.Uint64() - s[1].Value.Uint64()
	ch := watch(t, Limits{Memory: base + 64<<20})
	exit := Enter("policy/ over environments/big.cue")
	defer exit()
	var keep [][]byte
	for i := 0; i < 64; i++ {
		b := make([]byte, 8<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1 // touch every page
		}
		keep = append(keep, b)
		if e := wait(ch, 20*time.Millisecond); e != nil {
			if e.Limit != "memory" || e.What[0] != "policy/ over environments/big.cue" || !strings.Contains(e.Error(), "--max-eval-memory") {
				t.Errorf("exceeded = %+v: %s", e, e.Error())
			}
			return
		}
	}
	t.Fatalf("512 MiB allocated over a limit of %s and not stopped (%d buffers)", FormatBytes(base+64<<20), len(keep))
}

// Outside an evaluation, nothing is bounded; without a Watch, Enter does
// nothing.
func TestIdle(t *testing.T) {
	Enter("x.cue")()
	ch := watch(t, Limits{Time: time.Millisecond, Memory: 1})
	if e := wait(ch, 100*time.Millisecond); e != nil {
		t.Errorf("no evaluation ran, yet %v", e)
	}
}

// An evaluation that ended within its time is not reported later.
func TestEnded(t *testing.T) {
	ch := watch(t, Limits{Time: 50 * time.Millisecond})
	Enter("y.cue")()
	if e := wait(ch, 200*time.Millisecond); e != nil {
		t.Errorf("the evaluation ended, yet %v", e)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[uint64]string{512 << 20: "512Mi", 4 << 30: "4Gi", 5<<30 + 200<<20: "5.2Gi"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
