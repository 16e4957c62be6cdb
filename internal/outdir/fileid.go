package outdir

import (
	"io/fs"

	"github.com/katonic/katonic/internal/filestat"
)

// fileID returns the device and inode of fi, from os.Lstat or os.Stat.
func fileID(fi fs.FileInfo) (dev, ino uint64, ok bool) { return filestat.DevIno(fi) }
