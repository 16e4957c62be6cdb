//go:build !unix

package compile_test

import "errors"

func mkfifo(string) error { return errors.ErrUnsupported }
