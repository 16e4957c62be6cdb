// Package budget bounds the time and memory of katonic's CUE evaluations,
// so that an environment or a policy that would evaluate for ever, or
// until the machine runs out of memory (a comprehension over millions of
// elements, a string doubled in a loop), stops katonic with an error that
// names its file instead of a hang or a Go crash.
//
// CUE's evaluator cannot be interrupted, so the bound is kept by a
// watcher: the command starts one (Watch) with its Limits, and the
// evaluations mark themselves (Enter, from load, compile and policy). When
// an evaluation runs longer than Limits.Time, or the process's memory
// passes Limits.Memory while evaluations run, the watcher calls the
// command's onExceed once, with the files being evaluated; the command
// prints the error and exits. Nothing is written to out/ while an
// evaluation runs, so out/ is left as it was.
//
// Memory is the Go runtime's own account of the memory it has mapped and
// not released (runtime/metrics), read every 10 ms; the runtime's soft
// memory limit (debug.SetMemoryLimit) is set to the same bound, so the
// garbage collector works harder before the bound is reached.
package budget

import (
	"fmt"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound each evaluation's time and the process's memory while
// evaluations run. A zero field is no bound.
type Limits struct {
	// Time bounds one evaluation: the schema and profiles, an
	// environment's, or the policies' over one environment.
	Time time.Duration
	// Memory bounds the process's memory (bytes) while anything is
	// evaluated.
	Memory uint64
}

// Exceeded says which limit was passed, and by what.
type Exceeded struct {
	// What are the evaluations that were running (Enter's what), sorted.
	What []string
	// Limit is "time" or "memory"; Bound is the limit, Used what was
	// reached (a duration, or bytes as "5.2 GiB").
	Limit, Bound, Used string
}

// Error is the message katonic prints: the files, the limit, and the
// flag that raises it.
func (e *Exceeded) Error() string {
	what := strings.Join(e.What, ", ")
	switch e.Limit {
	case "time":
		return fmt.Sprintf("%s: evaluation stopped after %s, its time limit (--max-eval-time %s): a file that large or slow is unusual; raise the limit if it is meant to be", what, e.Used, e.Bound)
	default:
		return fmt.Sprintf("%s: evaluation stopped at %s of memory, over its limit (--max-eval-memory %s): a file that large is unusual; raise the limit if it is meant to be", what, e.Used, e.Bound)
	}
}

// watcher is the running Watch.
type watcher struct {
	limits   Limits
	onExceed func(*Exceeded)
	fired    atomic.Bool
	mu       sync.Mutex
	next     int
	active   map[int]entry
	done     chan struct{}
}

type entry struct {
	what  string
	start time.Time
}

var current atomic.Pointer[watcher]

// tick is how often the watcher looks.
const tick = 10 * time.Millisecond

// Watch starts watching the evaluations with l, until the returned stop is
// called. onExceed is called at most once, from the watcher's goroutine,
// when a limit is passed; it is expected to end the process (CUE's
// evaluation cannot be stopped otherwise). One Watch runs at a time: a
// second replaces the first.
func Watch(l Limits, onExceed func(*Exceeded)) (stop func()) {
	w := &watcher{limits: l, onExceed: onExceed, active: map[int]entry{}, done: make(chan struct{})}
	prevLimit := debug.SetMemoryLimit(-1)
	if l.Memory > 0 && l.Memory < math.MaxInt64 {
		debug.SetMemoryLimit(int64(l.Memory))
	}
	current.Store(w)
	go w.run()
	var once sync.Once
	return func() {
		once.Do(func() {
			current.CompareAndSwap(w, nil)
			close(w.done)
			debug.SetMemoryLimit(prevLimit)
		})
	}
}

// Enter marks the start of an evaluation of what (a file, relative to the
// repository, as messages show it) and returns the function that marks
// its end. It is safe for concurrent use, and does nothing when no Watch
// runs.
func Enter(what string) (exit func()) {
	w := current.Load()
	if w == nil {
		return func() {}
	}
	w.mu.Lock()
	id := w.next
	w.next++
	w.active[id] = entry{what: what, start: time.Now()}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.active, id)
		w.mu.Unlock()
	}
}

func (w *watcher) run() {
	t := time.NewTicker(tick)
	defer t.Stop()
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	for {
		select {
		case <-w.done:
			return
		case now := <-t.C:
			if e := w.check(now, sample); e != nil && w.fired.CompareAndSwap(false, true) {
				w.onExceed(e)
				return
			}
		}
	}
}

// check returns what was exceeded at now, or nil.
func (w *watcher) check(now time.Time, sample []metrics.Sample) *Exceeded {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.active) == 0 {
		return nil
	}
	if w.limits.Time > 0 {
		var late []string
		var longest time.Duration
		for _, e := range w.active {
			if d := now.Sub(e.start); d > w.limits.Time {
				late = append(late, e.what)
				longest = max(longest, d)
			}
		}
		if len(late) > 0 {
			slices.Sort(late)
			return &Exceeded{What: slices.Compact(late), Limit: "time", Bound: w.limits.Time.String(), Used: longest.Round(100 * time.Millisecond).String()}
		}
	}
	if w.limits.Memory > 0 {
		metrics.Read(sample)
		used := sample[0].Value.Uint64() - sample[1].Value.Uint64()
		if used > w.limits.Memory {
			var what []string
			for _, e := range w.active {
				what = append(what, e.what)
			}
			slices.Sort(what)
			return &Exceeded{What: slices.Compact(what), Limit: "memory", Bound: FormatBytes(w.limits.Memory), Used: FormatBytes(used)}
		}
	}
	return nil
}

// FormatBytes writes n bytes in binary units, as the flags take them:
// "512Mi", "4Gi", "5.2Gi".
func FormatBytes(n uint64) string {
	const gi, mi = 1 << 30, 1 << 20
	switch {
	case n >= gi && n%gi == 0:
		return fmt.Sprintf("%dGi", n/gi)
	case n >= gi:
		return fmt.Sprintf("%.1fGi", float64(n)/gi)
	default:
		return fmt.Sprintf("%dMi", n/mi)
	}
}
