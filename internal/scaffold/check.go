package scaffold

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/load"
)

// Check vets src as environments/<name>.cue of the repository rooted at
// dir, strictly (warnings are errors), as `katonic vet <name> --strict`
// would. It vets in a scratch copy of the repository's cue.mod/, schema/
// and profiles/ holding only that file, so nothing is written to dir, the
// other environments (broken or not) play no part, and the result does
// not depend on whether the file exists yet. The diagnostics' positions
// are mapped back to dir (environments/<name>.cue). It returns the
// diagnostics and compile.ErrInvalid (wrapped) when src does not vet, or
// another error when the scratch copy cannot be made or loaded.
func Check(dir, name string, src []byte) (diag.List, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "katonic-new-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"cue.mod", load.SchemaDir, load.ProfilesDir} {
		if err := os.CopyFS(filepath.Join(tmp, d), os.DirFS(filepath.Join(abs, d))); err != nil {
			return nil, fmt.Errorf("scaffold: copying %s/ to vet the scaffold: %w", d, err)
		}
	}
	envDir := filepath.Join(tmp, load.EnvironmentsDir)
	if err := os.Mkdir(envDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(envDir, name+".cue"), src, 0o644); err != nil {
		return nil, err
	}
	res, err := compile.Compile(compile.Options{Dir: tmp, Envs: []string{name}, Strict: true})
	var diags diag.List
	if res != nil {
		// The scratch directory may be reached through a symlink
		// (/tmp on macOS); compile reports the resolved path.
		roots := []string{tmp}
		if real, err := filepath.EvalSymlinks(tmp); err == nil && real != tmp {
			roots = append(roots, real)
		}
		for _, d := range res.Diags {
			for _, root := range roots {
				if rel, ok := strings.CutPrefix(d.Pos.Filename, root+string(filepath.Separator)); ok {
					d.Pos.Filename = filepath.Join(abs, rel)
					break
				}
			}
			diags = append(diags, d)
		}
	}
	return diags, err
}
