package scaffold

import (
	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/rendercache"
)

// Check vets src as environments/<name>.cue of the repository rooted at
// dir, strictly (warnings are errors), as `katonic vet <name> --strict`
// would, before it is written (compile.Candidate: a scratch copy of the
// repository holding only that file; then its hosts against those of the
// repository's other environments, compiled with cache, nil for none).
// The diagnostics are positioned at dir/environments/<name>.cue. It
// returns the diagnostics and compile.ErrInvalid (wrapped) when src does
// not vet, or another error when the scratch copy cannot be made or
// loaded.
func Check(dir, name string, src []byte, cache *rendercache.Cache) (diag.List, error) {
	res, err := compile.Candidate(dir, name, src, compile.Options{Strict: true, Cache: cache})
	if res == nil {
		return nil, err
	}
	return res.Diags, err
}
