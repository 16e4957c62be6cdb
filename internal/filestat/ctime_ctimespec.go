//go:build darwin || netbsd || freebsd

package filestat

import (
	"io/fs"
	"syscall"
)

// Supported reports whether this platform gives a status change time
// (ctime): without one, [Of] knows no file and every stat cache trusts
// nothing.
const Supported = true

// changeTime returns fi's status change time (ctime) in nanoseconds since
// the epoch: the time the kernel last changed the file's content or inode,
// which no program can set.
func changeTime(fi fs.FileInfo) (int64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Ctimespec.Nano(), true
}
