//go:build linux || openbsd || dragonfly

package outdir

import (
	"io/fs"
	"syscall"
)

// ctimeSupported: the stat cache can be used on this platform.
const ctimeSupported = true

// changeTime returns fi's status change time (ctime) in nanoseconds since
// the epoch: the time the kernel last changed the file's content or inode,
// which no program can set.
func changeTime(fi fs.FileInfo) (int64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Ctim.Nano(), true
}
