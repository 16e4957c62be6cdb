package outdir

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLockFileBesideRoot: Write and Plan hold the lock file beside the root
// (not inside the tree that is swapped), with their pid in it, and remove it.
func TestLockFileBesideRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "out")
	lockFile := filepath.Join(base, ".out.katonic-lock")
	var seen []string
	setHook(t, func(event, p string) error {
		if event != "locked" {
			return nil
		}
		b, err := os.ReadFile(lockFile)
		if err != nil {
			t.Errorf("while locked: %v", err)
		}
		if got, want := strings.TrimSpace(string(b)), strconv.Itoa(os.Getpid()); got != want {
			t.Errorf("lock file holds %q, want the pid %s", got, want)
		}
		if _, err := os.Lstat(filepath.Join(root, insideLockName)); err == nil {
			t.Errorf("a lock file inside the root")
		}
		seen = append(seen, p)
		return nil
	})
	for _, call := range []func() error{
		func() error { _, err := Write(root, bytesMap(map[string]string{"a.yaml": "a"}), nil); return err },
		func() error { _, err := Plan(root, bytesMap(map[string]string{"a.yaml": "b"}), nil); return err },
		func() error { _, err := Write(root, bytesMap(map[string]string{"a.yaml": "b"}), nil); return err },
	} {
		if err := call(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(lockFile); err == nil {
			t.Errorf("lock file left behind")
		}
	}
	if want := []string{lockFile, lockFile, lockFile}; !slices.Equal(seen, want) {
		t.Errorf("locked %q, want %q", seen, want)
	}
	if got := siblingNames(t, base); len(got) != 0 {
		t.Errorf("left beside the root: %q", got)
	}
}

// TestConcurrentWritesSerialize runs Writes of two trees, and Plans, at the
// same time in one process (flock locks are per open file, so they exclude
// each other within a process too): every call succeeds, no two ever hold
// the lock together, every Plan sees one complete tree, and the result is
// one of the two trees.
func TestConcurrentWritesSerialize(t *testing.T) {
	const n = 40
	trees := map[string]map[string][]byte{"a": genTree("a", n), "b": genTree("b", n)}
	// The complete trees, and what a Plan of tree a reports against each.
	want := map[string]map[string]string{}
	planOf := map[string][]string{}
	for _, v := range []string{"a", "b"} {
		ref := filepath.Join(t.TempDir(), "out")
		writeTree(t, ref, userFiles)
		if _, err := Write(ref, trees[v], nil); err != nil {
			t.Fatal(err)
		}
		want[v] = snapshot(t, ref)
		changes, err := Plan(ref, trees["a"], nil)
		if err != nil {
			t.Fatal(err)
		}
		planOf[v] = changeStrings(changes)
	}

	root := filepath.Join(t.TempDir(), "out")
	writeTree(t, root, userFiles)
	var inside, most atomic.Int32
	setHook(t, func(event, p string) error {
		switch event {
		case "locked":
			now := inside.Add(1)
			if now > most.Load() {
				most.Store(now)
			}
		case "unlocking":
			inside.Add(-1)
		case "stage":
			time.Sleep(50 * time.Microsecond) // widen the window a little
		}
		return nil
	})
	var wg sync.WaitGroup
	var waits atomic.Int32
	errs := make(chan error, 100)
	for round := range 3 {
		for _, v := range []string{"a", "b"} {
			wg.Go(func() {
				pr := newProgress()
				_, err := WriteWith(root, trees[v], Options{Progress: pr})
				if pr.String() != "" {
					waits.Add(1)
				}
				if err != nil {
					errs <- fmt.Errorf("round %d, Write %s: %w", round, v, err)
				}
			})
		}
		wg.Go(func() {
			changes, err := Plan(root, trees["a"], nil)
			switch got := changeStrings(changes); {
			case err != nil:
				errs <- fmt.Errorf("round %d, Plan: %w", round, err)
			case round > 0 && !slices.Equal(got, planOf["a"]) && !slices.Equal(got, planOf["b"]):
				// (in round 0 the root may still be empty)
				errs <- fmt.Errorf("round %d, Plan saw a tree that is neither a nor b: %q", round, got)
			}
		})
		wg.Wait()
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if m := most.Load(); m != 1 {
		t.Errorf("%d calls held the lock at once", m)
	}
	t.Logf("%d of 6 Writes waited for the lock", waits.Load())
	got := snapshot(t, root)
	if !maps.Equal(got, want["a"]) && !maps.Equal(got, want["b"]) {
		t.Errorf("the tree after concurrent Writes is neither a nor b:\n%s", treeDiff(got, want["a"], want["b"]))
	}
	if left := siblingNames(t, filepath.Dir(root)); len(left) != 0 {
		t.Errorf("left beside the root: %q", left)
	}
}

// locker is a helper process holding the lock (helperLock).
type locker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startLocker(t *testing.T, root string) *locker {
	t.Helper()
	l := &locker{cmd: exec.Command(os.Args[0])}
	l.cmd.Env = append(helperEnviron(), helperEnv+"=lock", helperRoot+"="+root)
	var err error
	if l.stdin, err = l.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := l.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	l.cmd.Stderr = &stderr
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.cmd.Process.Kill(); l.cmd.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "locked\n" {
		l.cmd.Wait()
		t.Fatalf("lock helper said %q: %s", line, stderr.String())
	}
	return l
}

// progress is an io.Writer that keeps what is written and signals the first
// write.
type progress struct {
	mu    sync.Mutex
	b     strings.Builder
	first chan struct{}
}

func newProgress() *progress { return &progress{first: make(chan struct{})} }

func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.b.Len() == 0 {
		close(p.first)
	}
	return p.b.Write(b)
}

func (p *progress) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.b.String()
}

// TestLockHeldByAnotherProcess: while a helper process holds the lock, Write
// and Plan wait as long as they are told to and then fail with a *LockError
// naming the lock file and the holder; a Write that waits succeeds once the
// holder lets go; a holder killed with SIGKILL releases the lock.
func TestLockHeldByAnotherProcess(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "out")
	lockFile := filepath.Join(base, ".out.katonic-lock")
	desired := bytesMap(map[string]string{"a.yaml": "a"})
	holder := startLocker(t, root)
	pid := holder.cmd.Process.Pid

	// Wait a little, then give up.
	pr := newProgress()
	_, err := WriteWith(root, desired, Options{LockTimeout: 100 * time.Millisecond, Progress: pr})
	var le *LockError
	if !errors.As(err, &le) {
		t.Fatalf("Write while another process holds the lock: %v, want a *LockError", err)
	}
	if le.LockFile != lockFile || le.PID != pid || le.Root != root || le.Waited <= 0 {
		t.Errorf("LockError %+v, want lock file %s, pid %d, root %s, a wait", le, lockFile, pid, root)
	}
	for _, want := range []string{"output root " + root + " is locked by another katonic render (pid " + strconv.Itoa(pid) + "; lock file " + lockFile + "); gave up after waiting "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if got, want := pr.String(), fmt.Sprintf("katonic: another katonic render (pid %d) is writing %s (lock file %s); waiting up to 100ms…\n", pid, root, lockFile); got != want {
		t.Errorf("progress\n got %q\nwant %q", got, want)
	}
	if _, err := os.Lstat(root); err == nil {
		t.Errorf("a Write that did not get the lock created the root")
	}

	// Do not wait at all; Plan locks too.
	_, err = PlanWith(root, desired, Options{LockTimeout: -1})
	if !errors.As(err, &le) || le.Waited != 0 || !strings.HasSuffix(err.Error(), "; not waiting: wait for it to finish, then run again") {
		t.Errorf("Plan with no wait: %v", err)
	}

	// Wait until the holder lets go.
	pr = newProgress()
	done := make(chan error, 1)
	go func() {
		_, err := WriteWith(root, desired, Options{LockTimeout: time.Minute, Progress: pr})
		done <- err
	}()
	select {
	case <-pr.first:
	case err := <-done:
		t.Fatalf("Write did not wait for the lock: %v", err)
	}
	holder.stdin.Close()
	if err := <-done; err != nil {
		t.Fatalf("Write after the holder released the lock: %v", err)
	}
	if err := holder.cmd.Wait(); err != nil {
		t.Errorf("lock helper: %v", err)
	}
	if got := readTree(t, root); !maps.Equal(got, map[string]string{"a.yaml": "a"}) {
		t.Errorf("tree %q", got)
	}

	// A holder that is killed leaves its lock file, but not its lock.
	holder = startLocker(t, root)
	holder.cmd.Process.Kill()
	holder.cmd.Wait()
	if _, err := os.Lstat(lockFile); err != nil {
		t.Fatalf("a killed holder's lock file: %v", err)
	}
	if _, err := WriteWith(root, bytesMap(map[string]string{"b.yaml": "b"}), Options{LockTimeout: -1}); err != nil {
		t.Fatalf("Write after the holder was killed: %v", err)
	}
	if _, err := os.Lstat(lockFile); err == nil {
		t.Errorf("the stale lock file was not removed")
	}
}

func TestLockErrorMessage(t *testing.T) {
	for _, tt := range []struct {
		e    LockError
		want string
	}{
		{LockError{Root: "out", LockFile: "/r/.out.katonic-lock", PID: 42, Waited: 1500 * time.Millisecond},
			"output root out is locked by another katonic render (pid 42; lock file /r/.out.katonic-lock); gave up after waiting 1.5s: wait for it to finish, then run again"},
		{LockError{Root: "out", LockFile: "/r/.out.katonic-lock"},
			"output root out is locked by another katonic render (lock file /r/.out.katonic-lock); not waiting: wait for it to finish, then run again"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

// TestLockFileIsNotFollowed: a symbolic link where the lock file goes is
// refused, not followed (the lock file is truncated to record the pid).
func TestLockFileIsNotFollowed(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	must(t, os.WriteFile(victim, []byte("precious"), 0o644))
	must(t, os.Symlink(victim, filepath.Join(base, ".out.katonic-lock")))
	_, err := Write(filepath.Join(base, "out"), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "is a symbolic link; refusing to follow it") {
		t.Errorf("Write with a linked lock file: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("the link's target was changed: %q", b)
	}
}
