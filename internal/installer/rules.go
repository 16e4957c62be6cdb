package installer

import (
	"path/filepath"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueload "cuelang.org/go/cue/load"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/load"
)

// LoadOptions reads the rules Convert applies from the configuration
// repository at dir: the profiles' rules (load.Repository.Rules), the VM
// sizes of schema/vmsizes.cue with their hardware, and the platform
// versions of katonic's catalog. The other Options fields are left empty.
// Diagnostics are the schema's or the profiles' errors (the repository's
// environments are not needed and their errors are ignored); the error is
// for a directory that is not a katonic repository.
func LoadOptions(dir string) (Options, diag.List, error) {
	repo, diags, err := load.Load(dir)
	if err != nil {
		return Options{}, nil, err
	}
	if repo == nil {
		return Options{}, diags, nil
	}
	// load.Repository keeps only the names of the VM sizes; their hardware
	// is read here from the same package.
	insts := cueload.Instances([]string{"./" + load.SchemaDir}, &cueload.Config{Dir: repo.Dir})
	if err := insts[0].Err; err != nil {
		return Options{}, load.FromCUE(err, repo.Dir, "", "schema"), nil
	}
	v := cuecontext.New().BuildInstance(insts[0])
	sizes := map[string]VMSize{}
	if err := v.LookupPath(cue.ParsePath("vmSizes")).Decode(&sizes); err != nil {
		return Options{}, load.FromCUE(err, repo.Dir, filepath.Join(repo.Dir, load.SchemaDir, "vmsizes.cue"), "schema"), nil
	}
	return Options{Rules: repo.Rules, VMSizes: sizes, PlatformVersions: catalog.Versions()}, nil, nil
}
