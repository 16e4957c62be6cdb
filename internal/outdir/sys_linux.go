package outdir

import (
	"errors"

	"golang.org/x/sys/unix"
)

// exchange atomically exchanges the entries a and b of the directory dirfd
// (renameat2 with RENAME_EXCHANGE). It returns errNoExchange where the
// kernel or the file system does not support that.
func exchange(dirfd int, a, b string) error {
	return exchangeAt(dirfd, a, dirfd, b)
}

// exchangeAt atomically exchanges the entry a of the directory afd with the
// entry b of the directory bfd, as exchange does.
func exchangeAt(afd int, a string, bfd int, b string) error {
	if testNoExchange {
		return errNoExchange
	}
	return renameat2(afd, a, bfd, b, unix.RENAME_EXCHANGE)
}

// renameNoReplace renames a to b in dirfd, failing if b exists
// (RENAME_NOREPLACE), or returns errNoExchange where that is unsupported.
func renameNoReplace(dirfd int, a, b string) error {
	if testNoExchange {
		return errNoExchange
	}
	return renameat2(dirfd, a, dirfd, b, unix.RENAME_NOREPLACE)
}

func renameat2(afd int, a string, bfd int, b string, flags uint) error {
	err := unix.Renameat2(afd, a, bfd, b, flags)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EPERM):
		// EINVAL: the file system lacks the flag; ENOSYS: the kernel lacks
		// renameat2; EPERM: a seccomp filter refuses it.
		return errNoExchange
	}
	return err
}
