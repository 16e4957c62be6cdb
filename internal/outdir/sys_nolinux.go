//go:build !linux

package outdir

// exchange reports errNoExchange: only Linux has renameat2(RENAME_EXCHANGE).
func exchange(dirfd int, a, b string) error { return errNoExchange }

// renameNoReplace reports errNoExchange: only Linux has RENAME_NOREPLACE.
func renameNoReplace(dirfd int, a, b string) error { return errNoExchange }

// exchangeAt reports errNoExchange: only Linux has renameat2(RENAME_EXCHANGE).
func exchangeAt(afd int, a string, bfd int, b string) error { return errNoExchange }
