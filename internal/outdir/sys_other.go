//go:build !unix

package outdir

import (
	"io/fs"
	"os"
)

func chownLike(r *os.Root, name string, fi fs.FileInfo) {}

func isEROFS(err error) bool { return false }

func isEXDEV(err error) bool { return false }
