//go:build unix

package outdir

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// chownLike gives the directory name under r the owner and group of fi, if
// this process may (best effort: a render by another user keeps its own).
func chownLike(r *os.Root, name string, fi fs.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
		r.Lchown(name, int(st.Uid), int(st.Gid))
	}
}

// isEROFS reports a read-only file system.
func isEROFS(err error) bool { return errors.Is(err, syscall.EROFS) }

// isEXDEV reports a rename across file systems.
func isEXDEV(err error) bool { return errors.Is(err, syscall.EXDEV) }
