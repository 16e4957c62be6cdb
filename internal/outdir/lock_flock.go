//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package outdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockAt takes an exclusive flock on the lock file at path, creating it if
// needed, waiting as opts says. It returns an error wrapping errNoLockFile if
// the file neither exists nor can be created, and a *LockError if another
// holder keeps it past the timeout.
func lockAt(t *target, path string, opts Options) (*heldLock, error) {
	timeout := opts.lockTimeout()
	start := time.Now()
	delay := 5 * time.Millisecond
	announced := false
	for {
		f, err := openLockFile(path)
		if err != nil {
			return nil, err
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			fi, err1 := f.Stat()
			li, err2 := os.Lstat(path)
			if err1 == nil && err2 == nil && os.SameFile(fi, li) {
				return &heldLock{f: f, path: path, stamp: recordPID(f)}, nil
			}
			// The holder we waited for removed it: start over.
			f.Close()
			continue
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("output root %s: locking %s: %w", t.name, path, err)
		}
		pid := readPID(f)
		f.Close()
		waited := time.Since(start)
		if timeout < 0 || waited >= timeout {
			if timeout < 0 {
				waited = 0
			}
			return nil, &LockError{Root: t.name, LockFile: path, PID: pid, Waited: waited}
		}
		if !announced && opts.Progress != nil {
			fmt.Fprint(opts.Progress, waitMessage(t, path, pid, timeout))
			announced = true
		}
		time.Sleep(min(delay, timeout-waited))
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// openLockFile opens (creating it, mode 0666 less the umask) the lock file at
// path for flock, never following a symbolic link. Where it cannot be created
// or opened for writing, an existing one is opened read-only (flock works on
// it all the same).
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o666)
	if err != nil {
		switch {
		case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK):
			return nil, fmt.Errorf("lock file %s is a symbolic link; refusing to follow it", path)
		case errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.EROFS):
			ro, rerr := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
			if rerr != nil {
				return nil, fmt.Errorf("%w %s: %v", errNoLockFile, path, bareErr(err))
			}
			f = ro
		default:
			return nil, fmt.Errorf("opening lock file %s: %w", path, err)
		}
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("lock file %s is not a regular file", path)
	}
	return f, nil
}
