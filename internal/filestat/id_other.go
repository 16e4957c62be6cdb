//go:build !unix

package filestat

import "io/fs"

// DevIno reports no device and inode on this platform.
func DevIno(fi fs.FileInfo) (dev, ino uint64, ok bool) { return 0, 0, false }
