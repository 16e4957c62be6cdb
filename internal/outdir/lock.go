package outdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LockError reports that another render holds the output directory's lock
// and did not release it in time (or at all, when the caller asked not to
// wait). Nothing was read or written.
//
// The lock is an advisory, exclusive flock(2) on a lock file beside the output
// directory, ".<base>.katonic-lock" in its parent (or, only when that parent
// is not writable, ".katonic-lock" inside it); see the package documentation.
type LockError struct {
	Root     string        // the output root, as the caller gave it
	LockFile string        // absolute path of the lock file
	PID      int           // process id the holder recorded in the lock file; 0 if unknown
	Waited   time.Duration // how long the call waited; 0 if it did not wait
}

// Error names the output root, the holder and the lock file, and says how
// long the call waited.
func (e *LockError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "output root %s is locked by another katonic render (", e.Root)
	if e.PID > 0 {
		fmt.Fprintf(&b, "pid %d; ", e.PID)
	}
	fmt.Fprintf(&b, "lock file %s)", e.LockFile)
	if e.Waited > 0 {
		fmt.Fprintf(&b, "; gave up after waiting %s", e.Waited.Round(time.Millisecond))
	} else {
		b.WriteString("; not waiting")
	}
	b.WriteString(": wait for it to finish, then run again")
	return b.String()
}

// besideLockName returns the name of the lock file in root's parent.
func besideLockName(base string) string { return "." + base + ".katonic-lock" }

// heldLock is the output directory's lock, held by this call. A zero heldLock
// holds nothing (a reader that could not create a lock file, or a platform
// without flock).
type heldLock struct {
	f    *os.File
	path string
	// stamp is the lock file's mtime (ns) once this process wrote its id
	// into it: a time on the clock of the file system beside the output
	// root (see refTime); 0 if unknown.
	stamp int64
}

// release unlinks the lock file, while still holding it, then unlocks it by
// closing it. A waiter that had opened the unlinked file gets its lock but
// then sees that the path no longer names that file, and starts over; so at
// most one process holds a lock that its path names, and no lock file is left
// behind (except after a kill: the next render reuses it).
func (l *heldLock) release() {
	if l == nil || l.f == nil {
		return
	}
	hook("unlocking", l.path)
	os.Remove(l.path)
	l.f.Close()
	l.f = nil
}

// errNoLockFile marks a lock file that cannot be created (its directory is
// not writable).
var errNoLockFile = errors.New("cannot create the lock file")

// lock takes the output directory's lock, waiting as opts says. The lock file
// is beside root if it exists there or can be created there, else inside root
// (an existing root whose parent is read-only). When neither works, a writer
// fails and a reader goes on without the lock: a directory whose lock file
// cannot be created is, in practice, one nobody is writing.
func (t *target) lock(opts Options, write bool) (*heldLock, error) {
	// A read ahead may hold the lock for its check: wait for it rather
	// than poll for the lock.
	opts.Prefetch.settle()
	if _, err := os.Stat(t.parent); errors.Is(err, fs.ErrNotExist) && !write {
		return &heldLock{}, nil // nothing to read, and nobody writing yet
	}
	places := []string{filepath.Join(t.parent, besideLockName(t.base))}
	if t.exists {
		places = append(places, filepath.Join(t.root, insideLockName))
	}
	var first error
	for _, p := range places {
		l, err := lockAt(t, p, opts)
		if err == nil {
			hook("locked", p)
			return l, nil
		}
		if !errors.Is(err, errNoLockFile) {
			return nil, err
		}
		if first == nil {
			first = err
		}
	}
	if !write {
		return &heldLock{}, nil
	}
	return nil, fmt.Errorf("output root %s: %w", t.name, first)
}

// lockTimeout returns the wait that opts asks for: negative means none.
func (o Options) lockTimeout() time.Duration {
	if o.LockTimeout == 0 {
		return DefaultLockTimeout
	}
	return o.LockTimeout
}

// recordPID writes this process's id into the held lock file, for the
// messages of those who wait, and returns the file's mtime then (ns; 0 if
// the write or the stat failed). Failures are ignored (a read-only open).
func recordPID(f *os.File) int64 {
	if f.Truncate(0) != nil {
		return 0
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return 0
	}
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	return fi.ModTime().UnixNano()
}

// readPID returns the process id recorded in a lock file, or 0.
func readPID(f *os.File) int {
	var buf [32]byte
	n, _ := f.ReadAt(buf[:], 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// waitMessage is the line written to Options.Progress while waiting.
func waitMessage(t *target, path string, pid int, timeout time.Duration) string {
	holder := "another katonic render"
	if pid > 0 {
		holder += fmt.Sprintf(" (pid %d)", pid)
	}
	return fmt.Sprintf("katonic: %s is writing %s (lock file %s); waiting up to %s…\n", holder, t.name, path, timeout)
}
