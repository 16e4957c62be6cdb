//go:build !unix

package outdir

import (
	"io/fs"
	"os"
)

func fileID(fi fs.FileInfo) (dev, ino uint64, ok bool) { return 0, 0, false }

func chownLike(r *os.Root, name string, fi fs.FileInfo) {}

func isEROFS(err error) bool { return false }

func isEXDEV(err error) bool { return false }
