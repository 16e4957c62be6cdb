//go:build !(linux || openbsd || dragonfly || darwin || netbsd || freebsd)

package filestat

import "io/fs"

// Supported reports whether this platform gives a status change time
// (ctime): without one, [Of] knows no file and every stat cache trusts
// nothing.
const Supported = false

// changeTime reports no status change time: without it the stat cache
// trusts nothing, and every file is read.
func changeTime(fi fs.FileInfo) (int64, bool) { return 0, false }
