//go:build !(linux || openbsd || dragonfly || darwin || netbsd || freebsd)

package outdir

import "io/fs"

// ctimeSupported: the stat cache can be used on this platform.
const ctimeSupported = false

// changeTime reports no status change time: without it the stat cache
// trusts nothing, and every file is read.
func changeTime(fi fs.FileInfo) (int64, bool) { return 0, false }
