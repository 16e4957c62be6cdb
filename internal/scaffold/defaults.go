package scaffold

import (
	"errors"
	"fmt"
	"sort"
	"strconv"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueload "cuelang.org/go/cue/load"

	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/load"
)

// errNoDefaults is wrapped by ReadDefaults' errors.
var errNoDefaults = errors.New("scaffold: cannot read the profile's defaults")

// Defaults are what profiles.#Environment fills in for one profile when an
// environment leaves a field out (schema/ and profiles/).
type Defaults struct {
	// LoadBalancer is the default of loadBalancer: "external" or "internal".
	LoadBalancer string
	// SharedStorage is the default of sharedStorage.
	SharedStorage bool
	// IdentityMode is the default of identity.mode; IdentityModes are the
	// values it may take, in the schema's order.
	IdentityMode  string
	IdentityModes []string
	// Services are every service of the schema, in its order, each with
	// whether it is on by default.
	Services []Service
}

// Service is one service of schema.#Services and its default.
type Service struct {
	Name    string
	Enabled bool
}

// EnabledNames returns the names of the services on by default, sorted.
func (d *Defaults) EnabledNames() []string {
	var out []string
	for _, s := range d.Services {
		if s.Enabled {
			out = append(out, s.Name)
		}
	}
	sort.Strings(out)
	return out
}

// ReadDefaults evaluates profiles.#Environment of the repository rooted at
// dir with profile p and returns its defaults. Errors (wrapping
// errNoDefaults): profiles/ does not load, or a default is missing or not
// of the expected kind.
func ReadDefaults(dir string, p config.Profile) (*Defaults, error) {
	all, err := ReadAllDefaults(dir, []config.Profile{p})
	if err != nil {
		return nil, err
	}
	return all[p], nil
}

// ReadAllDefaults is ReadDefaults for several profiles, loading and
// evaluating profiles/ once (katonic envs compares every environment with
// its profile's defaults).
func ReadAllDefaults(dir string, ps []config.Profile) (map[config.Profile]*Defaults, error) {
	insts := cueload.Instances([]string{"./" + load.ProfilesDir}, &cueload.Config{Dir: dir})
	if err := insts[0].Err; err != nil {
		return nil, fmt.Errorf("%w: %v", errNoDefaults, err)
	}
	v := cuecontext.New().BuildInstance(insts[0])
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", errNoDefaults, err)
	}
	out := map[config.Profile]*Defaults{}
	for _, p := range ps {
		if _, done := out[p]; done {
			continue
		}
		d, err := defaultsOf(v, p)
		if err != nil {
			return nil, err
		}
		out[p] = d
	}
	return out, nil
}

// defaultsOf reads the defaults of profile p from the evaluated profiles
// package v.
func defaultsOf(v cue.Value, p config.Profile) (*Defaults, error) {
	env := v.LookupPath(cue.ParsePath("#Environment")).FillPath(cue.ParsePath("profile"), string(p))
	d := &Defaults{}
	str := func(path string) (string, error) {
		x, _ := env.LookupPath(cue.ParsePath(path)).Default()
		s, err := x.String()
		if err != nil {
			return "", fmt.Errorf("%w: profiles.#Environment with profile %q: %s: %v", errNoDefaults, p, path, err)
		}
		return s, nil
	}
	var err error
	if d.LoadBalancer, err = str("loadBalancer"); err != nil {
		return nil, err
	}
	if d.IdentityMode, err = str("identity.mode"); err != nil {
		return nil, err
	}
	shared, _ := env.LookupPath(cue.ParsePath("sharedStorage")).Default()
	if d.SharedStorage, err = shared.Bool(); err != nil {
		return nil, fmt.Errorf("%w: sharedStorage: %v", errNoDefaults, err)
	}
	if op, alts := env.LookupPath(cue.ParsePath("identity.mode")).Expr(); op == cue.OrOp {
		for _, a := range alts {
			if s, err := a.String(); err == nil {
				d.IdentityModes = append(d.IdentityModes, strconv.Quote(s))
			}
		}
	}
	it, err := env.LookupPath(cue.ParsePath("services")).Fields()
	if err != nil {
		return nil, fmt.Errorf("%w: services: %v", errNoDefaults, err)
	}
	for it.Next() {
		on, _ := it.Value().LookupPath(cue.ParsePath("enabled")).Default()
		b, err := on.Bool()
		if err != nil {
			return nil, fmt.Errorf("%w: services.%s.enabled: %v", errNoDefaults, it.Selector(), err)
		}
		d.Services = append(d.Services, Service{Name: it.Selector().Unquoted(), Enabled: b})
	}
	return d, nil
}
