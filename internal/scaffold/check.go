package scaffold

import (
	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/diag"
)

// Check vets src as environments/<name>.cue of the repository rooted at
// dir, strictly (warnings are errors), as `katonic vet <name> --strict`
// would, before it is written (compile.Candidate: a scratch copy of the
// repository holding only that file). The diagnostics are positioned at
// dir/environments/<name>.cue. It returns the
// diagnostics and compile.ErrInvalid (wrapped) when src does not vet, or
// another error when the scratch copy cannot be made or loaded.
func Check(dir, name string, src []byte) (diag.List, error) {
	res, err := compile.Candidate(dir, name, src, compile.Options{Strict: true})
	if res == nil {
		return nil, err
	}
	return res.Diags, err
}
