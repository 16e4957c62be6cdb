package installer

import (
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
	return Options{Rules: repo.Rules, VMSizes: repo.VMSizeInfo, PlatformVersions: catalog.Versions()}, nil, nil
}
