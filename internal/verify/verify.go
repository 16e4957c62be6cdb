// Package verify proves offline that Flux will reconcile what katonic
// rendered. It checks a rendered tree (out/ on disk, or a render held in
// memory) in six layers, per environment: five of its own, and the policies
// of policy/, which the caller evaluates (PolicyFunc):
//
//  1. build: every Flux Kustomization reachable from clusters/<env>/ is built
//     the way kustomize-controller builds it, with github.com/fluxcd/pkg/kustomize
//     (generator, kustomize build, strict post-build variable substitution in
//     dry-run mode);
//  2. schema: every Flux object is validated against its CRD (OpenAPI v3 and
//     CEL, internal/crdschema, CRDs generated from the pinned Flux API
//     modules); every other object is strictly decoded into its k8s.io/api type;
//  3. refs: every sourceRef, chartRef, dependsOn, valuesFrom and secretRef
//     resolves to an object of the same cluster or to a documented
//     pre-existing one, dependsOn graphs are acyclic and every namespace used
//     is created;
//  4. charts: every HelmRelease is templated through its locked chart from
//     the local chart cache (internal/charts) and its Ingress hosts are
//     checked against the DNS conventions;
//  5. fit: the templated charts and the Kustomizations' objects are checked
//     against the environment by internal/fit: pods on their node pools and
//     within one node's and the pool's allocatable, claims on existing
//     StorageClasses and (on-prem) within Longhorn's disks, images pinned
//     and from the chart's registries or the image mirror, Ingress paths
//     that Istio serves as prefixes.
//
// The policy layer, last, evaluates policy/ when the caller passes it in.
//
// Findings are diag.Diagnostics tagged with environment and layer; nothing is
// written to the repository.
package verify

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/katonic/katonic/internal/charts"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/fit"
	"github.com/katonic/katonic/internal/render"
)

// The layers, in the order they run.
const (
	LayerBuild  = "build"
	LayerSchema = "schema"
	LayerRefs   = "refs"
	LayerCharts = "charts"
	LayerFit    = "fit"
	LayerPolicy = "policy"
)

// Layers returns every layer name, in order.
func Layers() []string {
	return []string{LayerBuild, LayerSchema, LayerRefs, LayerCharts, LayerFit, LayerPolicy}
}

// PolicyFunc evaluates the policies of policy/ (internal/policy) over one
// environment's rendered files (paths relative to the output directory) and
// returns its findings, for the policy layer. verify does not import the
// policy engine; the command line passes it in.
type PolicyFunc func(env Env, files map[string][]byte) ([]Finding, error)

// Env is one environment to verify: its resolved configuration and what the
// renderer says it installs.
type Env struct {
	Env *config.Environment
	// Releases are the environment's HelmReleases with the node pools their
	// pods must land on (render.Result.Releases).
	Releases []render.Release
	// Secrets are the Secrets the environment documents as pre-existing
	// (render.Result.Secrets, the README's Secrets table).
	Secrets []render.SecretRef
}

// Options says what to verify and where it is.
type Options struct {
	// Root is the repository root as an absolute path: the directory the
	// GitRepository flux-system serves, to which every Flux Kustomization's
	// spec.path is relative.
	Root string
	// Out is the output directory as a slash path relative to Root ("out").
	Out string
	// Files, when not nil, is the rendered tree (paths relative to the
	// output directory, as compile.Result.Files) used instead of the files on
	// disk: verify --render. It is materialised in a private temporary
	// directory, because fluxcd/pkg/kustomize's generator reads from disk.
	Files map[string][]byte
	// Envs are the environments to verify, in order.
	Envs []Env
	// Layers selects layers by name (see Layers); nil means all.
	Layers []string
	// Cache and Lock feed the charts and fit layers; a nil Lock counts as
	// empty.
	Cache charts.Cache
	Lock  *charts.Lock
	// WorkDir makes reported file names relative; "" keeps them absolute.
	WorkDir string
	// Policy runs the policy layer; nil skips it.
	Policy PolicyFunc
	// Progress, when not nil, is called once per environment verified
	// (katonic verify's progress bar on a terminal).
	Progress func()
}

// Finding is one problem found in one environment by one layer.
type Finding struct {
	Env   string `json:"environment"`
	Layer string `json:"layer"`
	diag.Diagnostic
}

// EnvReport is the result for one environment.
type EnvReport struct {
	Name string `json:"name"`
	// Kustomizations is how many Flux Kustomizations were built (layer 1).
	Kustomizations int `json:"kustomizations"`
	// Objects is how many objects the builds produced.
	Objects int `json:"objects"`
	// Remote lists the Flux Kustomizations whose source is not this
	// repository (e.g. Kubeflow Pipelines from its GitRepository), as
	// "Kustomization/ns/name from Kind/ns/name": not built offline.
	Remote []string `json:"remote"`
	// Charts is how many HelmReleases were templated (layer 4).
	Charts int `json:"charts"`
	// NotChecked names the charts ("katonic-api 5.0.9") of HelmReleases
	// that could not be templated because charts.lock or the chart cache
	// lacks them (a private chart, or one the mirror does not hold), sorted
	// and unique: they passed no chart or fit rule. Each is also an error
	// (verify.charts.unlocked or verify.charts.uncached).
	NotChecked []string `json:"notChecked,omitempty"`
	// Pools are the fit layer's totals per node pool (fit.PoolTotal):
	// allocatable per node, requested, and allocatable at minNodes and
	// maxNodes; absent when the layer did not run.
	Pools    []fit.PoolTotal `json:"pools,omitempty"`
	Findings []Finding       `json:"findings"`
}

// SchemaVersion is the version of the JSON form of Report (katonic verify
// -o json). It changes only when a field is removed or changes meaning.
const SchemaVersion = 1

// Report is the result of Run. Its JSON form is `katonic verify -o json`:
// {"schemaVersion": 1, "layers": [...], "environments": [{"name",
// "kustomizations", "objects", "remote", "charts", "pools", "findings": [{"environment",
// "layer", "severity", "file", "line", "column", "object", "message", "rule",
// "source"}]}]}.
type Report struct {
	SchemaVersion int         `json:"schemaVersion"`
	Layers        []string    `json:"layers"`
	Envs          []EnvReport `json:"environments"`
}

// Errors counts the error findings of r.
func (r *Report) Errors() int {
	n := 0
	for _, e := range r.Envs {
		for _, f := range e.Findings {
			if f.Severity == diag.Error {
				n++
			}
		}
	}
	return n
}

// Warnings counts the warning findings of r.
func (r *Report) Warnings() int {
	n := 0
	for _, e := range r.Envs {
		for _, f := range e.Findings {
			if f.Severity == diag.Warning {
				n++
			}
		}
	}
	return n
}

// Run verifies opts.Envs and returns the report. Problems in the rendered
// tree are findings, not errors; the error is for bad options (an unknown
// layer) and for I/O that prevents verifying at all.
func Run(opts Options) (*Report, error) {
	layers := opts.Layers
	if layers == nil {
		layers = Layers()
	}
	for _, l := range layers {
		if !slices.Contains(Layers(), l) {
			return nil, fmt.Errorf("unknown layer %q (layers: %s)", l, strings.Join(Layers(), ", "))
		}
	}
	tr, err := openTree(opts)
	if err != nil {
		return nil, err
	}
	defer tr.close()

	rep := &Report{SchemaVersion: SchemaVersion, Layers: ordered(layers)}
	for _, e := range opts.Envs {
		v := &envVerifier{opts: opts, tree: tr, index: tr.newIndex(), env: e, layers: layers}
		rep.Envs = append(rep.Envs, v.run())
		if opts.Progress != nil {
			opts.Progress()
		}
	}
	return rep, nil
}

// ordered returns layers in the canonical order.
func ordered(layers []string) []string {
	var out []string
	for _, l := range Layers() {
		if slices.Contains(layers, l) {
			out = append(out, l)
		}
	}
	return out
}

// envVerifier carries one environment's state through the layers.
type envVerifier struct {
	opts   Options
	tree   *tree
	index  *index
	env    Env
	layers []string
	rep    EnvReport
	// objects are every object of the cluster: the cluster entry's and
	// those of each built Flux Kustomization, in build order.
	objects []*object
	// templated are the HelmReleases the chart layer templated, for the
	// charts and fit layers.
	templated []templatedRelease
	// remote lists Flux Kustomizations whose source is not this repository
	// (their objects are not available offline), by namespace/name.
	remote map[string]string
}

func (v *envVerifier) has(layer string) bool { return slices.Contains(v.layers, layer) }

func (v *envVerifier) run() EnvReport {
	v.rep = EnvReport{Name: v.env.Env.Name, Findings: []Finding{}}
	v.remote = map[string]string{}
	// The build layer also collects the objects the other layers check, so
	// it always runs; its findings are reported only when selected.
	keep := v.rep.Findings
	v.build()
	if !v.has(LayerBuild) {
		v.rep.Findings = keep
	}
	if v.has(LayerSchema) {
		v.schema()
	}
	if v.has(LayerRefs) {
		v.refs()
	}
	if v.has(LayerCharts) || v.has(LayerFit) {
		// Templating's findings belong to the charts layer; without it,
		// the fit layer names the releases it could not read.
		n := len(v.rep.Findings)
		v.template()
		if !v.has(LayerCharts) {
			v.rep.Findings = v.rep.Findings[:n]
			v.untemplated()
		}
	}
	if v.has(LayerCharts) {
		v.charts()
	}
	if v.has(LayerFit) {
		v.fit()
	}
	if v.has(LayerPolicy) && v.opts.Policy != nil {
		v.policy()
	}
	v.rep.Remote = []string{}
	for _, id := range sortedKeys(v.remote) {
		v.rep.Remote = append(v.rep.Remote, id+" from "+v.remote[id])
	}
	sort.SliceStable(v.rep.Findings, func(i, j int) bool {
		a, b := v.rep.Findings[i], v.rep.Findings[j]
		if la, lb := layerIndex(a.Layer), layerIndex(b.Layer); la != lb {
			return la < lb
		}
		if a.Pos.Filename != b.Pos.Filename {
			return a.Pos.Filename < b.Pos.Filename
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		return a.Message < b.Message
	})
	return v.rep
}

// untemplated is the fit layer's error, when the charts layer is not run,
// for the HelmReleases that could not be templated: their pods are not
// checked, so fit does not pass them. The charts layer says why each one
// failed.
func (v *envVerifier) untemplated() {
	done := map[*object]bool{}
	for _, t := range v.templated {
		done[t.o] = true
	}
	var missed []string
	for _, o := range v.objects {
		if !o.is(helmGroup, "HelmRelease") || done[o] {
			continue
		}
		if ref, ok := v.chartRef(o); ok {
			missed = append(missed, o.name+" (chart "+ref.Chart+" "+ref.Version+")")
		} else {
			missed = append(missed, o.name)
		}
	}
	if len(missed) == 0 {
		return
	}
	v.add(LayerFit, diag.Error, nil, "", "fit.untemplated", srcCharts,
		"%s: %d %s not templated, so the fit layer does not check their pods: %s; run with --layers %s,%s to see why (a chart not in %s or the chart cache needs 'katonic charts pull'), or leave fit out",
		v.env.Env.Name, len(missed), pluralize(len(missed), "HelmRelease was", "HelmReleases were"), strings.Join(missed, ", "),
		LayerCharts, LayerFit, charts.LockFile)
}

func layerIndex(l string) int { return slices.Index(Layers(), l) }

// add records a finding about o (which may be nil) at the given field path
// ("" for the whole object).
func (v *envVerifier) add(layer string, sev diag.Severity, o *object, field, rule, source, format string, args ...any) {
	d := diag.Diagnostic{Severity: sev, Rule: rule, Source: source, Message: fmt.Sprintf(format, args...)}
	if o != nil {
		d.Path = o.id()
		if field != "" {
			d.Path += ": " + field
		}
		d.Pos = v.index.pos(o, field)
		if v.opts.WorkDir != "" {
			d.Pos.Filename = diag.Rel(v.opts.WorkDir, d.Pos.Filename)
		}
	}
	v.rep.Findings = append(v.rep.Findings, Finding{Env: v.env.Env.Name, Layer: layer, Diagnostic: d})
}

// findingJSON is the JSON form of a Finding (katonic verify -o json).
type findingJSON struct {
	Env      string `json:"environment"`
	Layer    string `json:"layer"`
	Severity string `json:"severity"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Object   string `json:"object,omitempty"`
	Message  string `json:"message"`
	Rule     string `json:"rule"`
	Source   string `json:"source"`
}

// MarshalJSON encodes f with its severity as "error" or "warning" and its
// position flattened into file, line and column.
func (f Finding) MarshalJSON() ([]byte, error) {
	return json.Marshal(findingJSON{
		Env: f.Env, Layer: f.Layer, Severity: f.Severity.String(),
		File: f.Pos.Filename, Line: f.Pos.Line, Column: f.Pos.Column,
		Object: f.Path, Message: f.Message, Rule: f.Rule, Source: f.Source,
	})
}

func pluralize(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// policy runs the policy layer over the environment's files as verified:
// the files under out/clusters/<env>/ and out/environments/<env>/.
func (v *envVerifier) policy() {
	files := map[string][]byte{}
	out := v.tree.abs(v.tree.out)
	for _, sub := range []string{"clusters", "environments"} {
		dir := filepath.Join(out, sub, v.env.Env.Name)
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(out, p)
			if err != nil {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil {
				files[filepath.ToSlash(rel)] = b
			}
			return nil
		})
	}
	fs, err := v.opts.Policy(v.env, files)
	if err != nil {
		v.add(LayerPolicy, diag.Error, nil, "", "policy", "policy/", "%s: %v", v.env.Env.Name, err)
		return
	}
	for _, f := range fs {
		f.Env, f.Layer = v.env.Env.Name, LayerPolicy
		v.rep.Findings = append(v.rep.Findings, f)
	}
}
