//go:build unix

package filestat

import (
	"io/fs"
	"syscall"
)

// DevIno returns the device and inode of fi, from os.Lstat or os.Stat;
// false where fi carries no syscall.Stat_t.
func DevIno(fi fs.FileInfo) (dev, ino uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), uint64(st.Ino), true
}
