// Package filestat tells whether a file may have changed since it was
// last seen, from its stat alone, as git's index does ("racy git"): a
// program that rewrites, truncates, replaces or touches a file gives it a
// new status change time (ctime), which no program can set, and usually a
// new size, mtime or inode. katonic's output directory keeps such a stat
// cache of its generated files (internal/outdir), and the render cache one
// of katonic's own executable (internal/rendercache).
package filestat

import "io/fs"

// Stat is what is compared: sizes in bytes, times in nanoseconds since the
// epoch.
type Stat struct {
	Size, Mtime, Ctime int64
	Dev, Ino           uint64
}

// Of returns fi's Stat; false where the platform lacks inode numbers or a
// ctime, or fi is not a regular file.
func Of(fi fs.FileInfo) (Stat, bool) {
	if fi == nil || !fi.Mode().IsRegular() {
		return Stat{}, false
	}
	dev, ino, ok := DevIno(fi)
	if !ok {
		return Stat{}, false
	}
	ctime, ok := changeTime(fi)
	if !ok {
		return Stat{}, false
	}
	return Stat{Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Ctime: ctime, Dev: dev, Ino: ino}, true
}

// Settled reports whether a file whose Stat is s can be trusted to change
// its Stat on its next change, given ref, a time (ns) no later than any
// timestamp the kernel can give a change made from now on: its ctime and
// mtime are before ref. A file changed within the clock's granularity of
// ref could change again with the same times; it is not settled.
func (s Stat) Settled(ref int64) bool {
	return s.Ctime < ref && s.Mtime < ref && s.Ctime >= 0 && s.Mtime >= 0 && s.Size >= 0
}

// Kind names what a file of mode m is when it is neither a regular file
// nor a directory, for messages: "a named pipe", "a socket", "a device",
// or else "a special file" (a symbolic link, say, when m is from Lstat).
func Kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}
