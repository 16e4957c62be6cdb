package compile

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/parser"

	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/load"
)

// hostSource is the source of rule dns.unique.
const hostSource = "seeds 001_023b29528093f049.txt and 003_48ea17a7d7c364df.txt: an installation is served from its FQDN, Superset at dash-<fqdn>, Airbyte at connectors-<fqdn>; DNS resolves a name to one load balancer"

// hostClashes returns, by environment name, an error for each environment
// of envs that would serve a host (config.Environment.Hosts: its FQDN,
// dash-<FQDN>, connectors-<FQDN>) that another of envs serves too: DNS
// sends a name to one load balancer, so two installations cannot share
// one. The usual cause is an environment file copied from another whose
// domain was left as it was, and either may be the one to change: each
// of them gets an error, on its domain (in its file, under the repository
// dir), naming the other environment's domain (the first by name when
// more share it). Rule dns.unique.
func hostClashes(dir string, envs []*config.Environment) map[string]diag.Diagnostic {
	envs = slices.SortedFunc(slices.Values(envs), func(a, b *config.Environment) int { return strings.Compare(a.Name, b.Name) })
	servers := map[string][]*config.Environment{} // by host, in name order
	for _, e := range envs {
		for _, h := range e.Hosts() {
			servers[h] = append(servers[h], e)
		}
	}
	out := map[string]diag.Diagnostic{}
	for _, e := range envs {
		for _, h := range e.Hosts() {
			i := slices.IndexFunc(servers[h], func(o *config.Environment) bool { return o != e })
			if i < 0 {
				continue
			}
			o := servers[h][i]
			out[e.Name] = diag.Diagnostic{
				Severity: diag.Error,
				Pos:      domainPos(dir, e),
				Path:     cue.MakePath(cue.Str("environments"), cue.Str(e.Name), cue.Str("domain")).String(),
				Message: fmt.Sprintf("domain %q: %s %s is also %s of environment %s (%s): DNS sends a name to one load balancer, so each installation needs hosts of its own; give one of them another domain",
					e.Domain, hostRole(e, h), h, hostRole(o, h), o.Name, domainPos(dir, o).String(dir)),
				Rule:   "dns.unique",
				Source: hostSource,
			}
			break // one error per environment: the rest follows from its domain
		}
	}
	return out
}

// hostRole says which of e's hosts h is.
func hostRole(e *config.Environment, h string) string {
	switch h {
	case e.Domain:
		return "the FQDN"
	case e.DashHost():
		return "Superset's host"
	default:
		return "Airbyte's host"
	}
}

// domainPos is the position of e's domain in its file (the value's), or
// the file alone when it cannot be parsed or does not write one.
func domainPos(dir string, e *config.Environment) diag.Pos {
	abs := filepath.FromSlash(e.File)
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(dir, abs)
	}
	f, err := parser.ParseFile(abs, nil)
	if err != nil {
		return diag.Pos{Filename: abs}
	}
	p, n := load.FindField(f.Decls, []string{"environments", e.Name, "domain"}, false)
	if n != 3 || !p.IsValid() {
		return diag.Pos{Filename: abs}
	}
	return diag.Pos{Filename: abs, Line: p.Line(), Column: p.Column()}
}
