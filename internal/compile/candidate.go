package compile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/load"
	"github.com/katonic/katonic/internal/rendercache"
)

// Candidate compiles src as environments/<name>.cue of the repository
// rooted at dir, before it is written there: in a scratch copy of the
// repository's cue.mod/, schema/ and profiles/ that holds only that
// environment. So nothing is written to dir, the other environments
// (broken or not) do not change its result, and the result does not
// depend on whether the file exists yet. opts.Dir and opts.Envs are set by
// Candidate; use Strict to vet as `katonic vet --strict` does, Render to
// render too.
//
// One rule spans environments: once src vets, its hosts are checked
// against those of dir's other valid environments (dns.unique; an
// environment of the same name is the one src replaces). They are compiled
// with opts.Cache, which the scratch copy's compile does not use.
//
// katonic import and katonic new use it so that an environment that does
// not vet is never written. Diagnostics are positioned at
// dir/environments/<name>.cue. The error is ErrInvalid (with the
// diagnostics in the Result) when src does not vet, or an error making,
// loading or rendering the scratch copy, or compiling dir's environments.
func Candidate(dir, name string, src []byte, opts Options) (*Result, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "katonic-candidate-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"cue.mod", load.SchemaDir, load.ProfilesDir} {
		if err := os.CopyFS(filepath.Join(tmp, d), os.DirFS(filepath.Join(abs, d))); err != nil {
			return nil, fmt.Errorf("copying %s/ to a scratch directory: %w", d, err)
		}
	}
	envDir := filepath.Join(tmp, load.EnvironmentsDir)
	if err := os.Mkdir(envDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(envDir, name+".cue"), src, 0o644); err != nil {
		return nil, err
	}
	cache := opts.Cache
	opts.Dir, opts.Envs, opts.Cache = tmp, []string{name}, nil
	res, err := Compile(opts)
	if res == nil {
		return nil, err
	}
	if err == nil && len(res.Envs) == 1 {
		if err = clashesWithRepository(res, abs, filepath.Join(envDir, name+".cue"), cache); err != nil && !errors.Is(err, ErrInvalid) {
			return nil, err
		}
	}
	// Positions back to dir. The scratch directory may be reached through
	// a symlink (/tmp on macOS), and compile reports the resolved path.
	roots := []string{tmp}
	if real, rerr := filepath.EvalSymlinks(tmp); rerr == nil && real != tmp {
		roots = append(roots, real)
	}
	move := func(p string) string {
		for _, root := range roots {
			if rel, ok := strings.CutPrefix(p, root+string(filepath.Separator)); ok {
				return filepath.Join(abs, rel)
			}
		}
		return p
	}
	res.Dir = abs
	for i := range res.Diags {
		res.Diags[i].Pos.Filename = move(res.Diags[i].Pos.Filename)
	}
	for i := range res.Envs {
		e := &res.Envs[i]
		for j := range e.Diags {
			e.Diags[j].Pos.Filename = move(e.Diags[j].Pos.Filename)
		}
		// The CUE value refers to the scratch copy, which is gone.
		e.Source = load.Env{}
	}
	return res, err
}

// clashesWithRepository checks the hosts of res's one environment, whose
// file is at file, against those of the valid environments of the
// repository at dir but the one of the same name (dns.unique). On a clash
// it moves the environment's diagnostic into res (res.Envs emptied, as for
// any environment that does not vet) and returns ErrInvalid, wrapped.
func clashesWithRepository(res *Result, dir, file string, cache *rendercache.Cache) error {
	cand := *res.Envs[0].Env
	cand.File = file // positions in src, in the scratch copy
	others, err := Compile(Options{Dir: dir, Cache: cache})
	if others == nil {
		return fmt.Errorf("compiling the other environments of %s: %w", dir, err)
	}
	envs := []*config.Environment{&cand}
	for _, e := range others.Envs {
		if e.Env.Name != cand.Name {
			envs = append(envs, e.Env)
		}
	}
	d, clash := hostClashes(dir, envs)[cand.Name]
	if !clash {
		return nil
	}
	res.Diags = append(res.Diags, d).Sort()
	res.Envs = nil
	return fmt.Errorf("%w: environment %s: %s", ErrInvalid, cand.Name, d.Message)
}
