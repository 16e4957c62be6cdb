package crdschema

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// referenceCRDDir holds the upstream Flux CRDs, byte for byte as published by
// the Flux controllers (see its README: helm-controller v1.6.3,
// kustomize-controller v1.9.4, source-controller main after v1.9.1). It is
// shared reference material in the development workspace, beside the
// repository and not part of it.
const referenceCRDDir = "../../../shared/reference/flux-crds"

// notCompared lists what TestEmbeddedCRDsMatchReference deliberately does not
// compare, because it has no effect on how [Validator.Validate] (or the API
// server) validates an object.
var notCompared = []struct{ what, reason string }{
	{"metadata (annotations, labels)", "metadata.annotations carries controller-gen.kubebuilder.io/version, which names the generator release and differs whenever the reference was generated with another controller-gen, and kustomize.toolkit.fluxcd.io/substitute, which tells kustomize-controller not to substitute variables in the CRD itself; neither changes the schema"},
	{"description (in every schema node)", "documentation only; it changes with wording fixes between Flux releases and is ignored by validation"},
	{"spec.versions[].additionalPrinterColumns", "columns for `kubectl get`, not validation"},
	{"spec.conversion", "conversion between served versions happens in a cluster; offline validation validates each version against its own schema"},
	{"status", "the CRD's status as written by the API server; generated files carry none"},
}

// crdDiff is one difference between an embedded CRD and its reference.
type crdDiff struct {
	crd     string // CRD name, <plural>.<group>
	version string // CRD version, "" for the whole CRD
	path    string // where, in the CRD (JSON field names)
	detail  string
}

func (d crdDiff) key() string { return d.crd + " " + d.version + " " + d.path }

func (d crdDiff) String() string {
	where := d.crd
	if d.version != "" {
		where += " version " + d.version
	}
	return fmt.Sprintf("%s: %s: %s", where, d.path, d.detail)
}

// expectedDiffs lists every difference between the embedded CRDs (generated
// from the Flux API modules pinned in go.mod) and the reference CRDs that is
// known and accepted, with the reason. An entry matches a difference with the
// same CRD, version and path. A difference not listed here fails the test; so
// does an entry that no longer matches any difference (remove it).
//
// As of helm-controller/api v1.6.5, kustomize-controller/api v1.9.6 and
// source-controller/api v1.9.6 with controller-gen v0.21.0, the five CRDs the
// reference holds are identical to the generated ones, byte for byte; the only
// differences are the source kinds the reference does not carry.
var expectedDiffs = []struct {
	crd, version, path string
	reason             string
}{
	{"buckets.source.toolkit.fluxcd.io", "", "(CRD)", "controller-gen emits every kind of source-controller/api, as upstream's config/crd/bases has them; the reference folder holds only the five kinds katonic renders, and Bucket is kept so verify knows it too"},
	{"helmcharts.source.toolkit.fluxcd.io", "", "(CRD)", "as Bucket: generated from source-controller/api, not in the reference folder; HelmChart objects are created by helm-controller from HelmReleases"},
	{"externalartifacts.source.toolkit.fluxcd.io", "", "(CRD)", "as Bucket: generated from source-controller/api (new in source-controller/api v1.7.0), not in the reference folder"},
}

// TestEmbeddedCRDsMatchReference checks that the CRDs generated from the
// pinned Flux API modules validate exactly like the upstream CRDs in
// referenceCRDDir: for every kind and version, the served and storage flags,
// scope, names, subresources, the OpenAPI v3 schema (without descriptions)
// and every x-kubernetes-validations rule.
func TestEmbeddedCRDsMatchReference(t *testing.T) {
	refFiles, _ := filepath.Glob(filepath.Join(referenceCRDDir, "*.yaml"))
	if len(refFiles) == 0 {
		t.Skipf("no reference Flux CRDs at %s: they are shared reference material in the development workspace, not part of the repository (on a user's machine this test has nothing to compare with)", referenceCRDDir)
	}
	var refDocs [][]byte
	for _, f := range refFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		refDocs = append(refDocs, b)
	}
	ref := decodeCRDs(t, refDocs)
	var genDocs [][]byte
	for _, b := range FluxCRDs() {
		genDocs = append(genDocs, b)
	}
	gen := decodeCRDs(t, genDocs)

	var diffs []crdDiff
	for _, name := range unionKeys(ref, gen) {
		r, g := ref[name], gen[name]
		switch {
		case g == nil:
			diffs = append(diffs, crdDiff{name, "", "(CRD)", "only in the reference: not generated from the Flux API modules"})
		case r == nil:
			diffs = append(diffs, crdDiff{name, "", "(CRD)", "only in the generated CRDs"})
		default:
			diffs = append(diffs, compareCRDs(r, g)...)
		}
	}

	expected := map[string]string{}
	for _, e := range expectedDiffs {
		expected[crdDiff{crd: e.crd, version: e.version, path: e.path}.key()] = e.reason
	}
	seen := map[string]bool{}
	var unexpected []string
	for _, d := range diffs {
		if reason, ok := expected[d.key()]; ok {
			seen[d.key()] = true
			t.Logf("expected difference: %v (%s)", d, reason)
			continue
		}
		unexpected = append(unexpected, d.String())
	}
	if len(unexpected) > 0 {
		t.Errorf("the embedded Flux CRDs (internal/crdschema/flux, from the Flux API modules in go.mod) differ from the reference CRDs in %s in %d place(s) not listed in expectedDiffs:\n  %s\nIf the reference is from another Flux release, list each difference in expectedDiffs with the reason; otherwise regenerate with `make generate`.",
			referenceCRDDir, len(unexpected), strings.Join(unexpected, "\n  "))
	}
	for _, e := range expectedDiffs {
		if k := (crdDiff{crd: e.crd, version: e.version, path: e.path}).key(); !seen[k] {
			t.Errorf("expectedDiffs entry %q no longer matches any difference: remove it", k)
		}
	}
	for _, n := range notCompared {
		t.Logf("not compared: %s: %s", n.what, n.reason)
	}
}

// decodeCRDs decodes CRD manifests into CustomResourceDefinitions keyed by
// name, with the API server's defaults applied to both sides alike.
func decodeCRDs(t *testing.T, data [][]byte) map[string]*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	out := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, d := range data {
		docs, err := splitDocuments(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range docs {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := yaml.UnmarshalStrict(doc, crd); err != nil {
				t.Fatalf("decoding CRD: %v", err)
			}
			apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(crd)
			if _, dup := out[crd.Name]; dup {
				t.Fatalf("CRD %s defined twice", crd.Name)
			}
			out[crd.Name] = crd
		}
	}
	return out
}

// compareCRDs returns the differences that matter for validation between a
// reference CRD and a generated one.
func compareCRDs(ref, gen *apiextensionsv1.CustomResourceDefinition) []crdDiff {
	name := ref.Name
	var diffs []crdDiff
	add := func(version string) func(path, detail string) {
		return func(path, detail string) {
			diffs = append(diffs, crdDiff{name, version, path, detail})
		}
	}

	crdLevel := func(c *apiextensionsv1.CustomResourceDefinition) any {
		return toJSON(map[string]any{
			"group":                 c.Spec.Group,
			"scope":                 c.Spec.Scope,
			"names":                 c.Spec.Names,
			"preserveUnknownFields": c.Spec.PreserveUnknownFields,
		})
	}
	diffValues("spec", crdLevel(ref), crdLevel(gen), add(""))

	refVers, genVers := versionsByName(ref), versionsByName(gen)
	for _, v := range unionKeys(refVers, genVers) {
		r, g := refVers[v], genVers[v]
		switch {
		case g == nil:
			add(v)("spec.versions", fmt.Sprintf("version only in the reference (served=%t)", r.Served))
			continue
		case r == nil:
			add(v)("spec.versions", fmt.Sprintf("version only in the generated CRD (served=%t)", g.Served))
			continue
		}
		verLevel := func(x *apiextensionsv1.CustomResourceDefinitionVersion) any {
			return toJSON(map[string]any{
				"served":             x.Served,
				"storage":            x.Storage,
				"deprecated":         x.Deprecated,
				"deprecationWarning": x.DeprecationWarning,
				"subresources":       x.Subresources,
				"selectableFields":   x.SelectableFields,
			})
		}
		diffValues("spec.versions[]", verLevel(r), verLevel(g), add(v))

		rs, rRules := schemaOf(r)
		gs, gRules := schemaOf(g)
		diffValues("schema.openAPIV3Schema", rs, gs, add(v))
		diffRules(rRules, gRules, add(v))
	}
	return diffs
}

func versionsByName(c *apiextensionsv1.CustomResourceDefinition) map[string]*apiextensionsv1.CustomResourceDefinitionVersion {
	out := map[string]*apiextensionsv1.CustomResourceDefinitionVersion{}
	for i := range c.Spec.Versions {
		out[c.Spec.Versions[i].Name] = &c.Spec.Versions[i]
	}
	return out
}

// schemaOf returns a version's OpenAPI v3 schema as generic JSON without
// descriptions and without x-kubernetes-validations, and the rules it held,
// keyed by the field path of the schema node that declares them.
func schemaOf(v *apiextensionsv1.CustomResourceDefinitionVersion) (any, map[string][]apiextensionsv1.ValidationRule) {
	rules := map[string][]apiextensionsv1.ValidationRule{}
	if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
		return nil, rules
	}
	s := toJSON(v.Schema.OpenAPIV3Schema)
	stripSchema(s, "", rules)
	return s, rules
}

// stripSchema walks a JSON schema node, removing the description keyword and
// moving x-kubernetes-validations into rules. It descends only into keywords
// that hold schemas, so a property named "description" is kept.
func stripSchema(node any, fieldPath string, rules map[string][]apiextensionsv1.ValidationRule) {
	m, ok := node.(map[string]any)
	if !ok {
		return
	}
	delete(m, "description")
	if raw, ok := m["x-kubernetes-validations"]; ok {
		var rs []apiextensionsv1.ValidationRule
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &rs); err != nil {
			panic(err)
		}
		p := fieldPath
		if p == "" {
			p = "<root>"
		}
		rules[p] = append(rules[p], rs...)
		delete(m, "x-kubernetes-validations")
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for k, sub := range props {
			stripSchema(sub, joinField(fieldPath, k), rules)
		}
	}
	if props, ok := m["patternProperties"].(map[string]any); ok {
		for k, sub := range props {
			stripSchema(sub, fieldPath+"[/"+k+"/]", rules)
		}
	}
	stripSchema(m["items"], fieldPath+"[*]", rules)
	if items, ok := m["items"].([]any); ok {
		for i, sub := range items {
			stripSchema(sub, fmt.Sprintf("%s[%d]", fieldPath, i), rules)
		}
	}
	stripSchema(m["additionalProperties"], fieldPath+"[*]", rules)
	stripSchema(m["not"], fieldPath, rules)
	for _, kw := range []string{"allOf", "anyOf", "oneOf"} {
		if subs, ok := m[kw].([]any); ok {
			for _, sub := range subs {
				stripSchema(sub, fieldPath, rules)
			}
		}
	}
}

func joinField(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// diffRules compares the x-kubernetes-validations rules of two schemas, node
// by node, rule by rule (keyed by the CEL expression).
func diffRules(ref, gen map[string][]apiextensionsv1.ValidationRule, add func(path, detail string)) {
	for _, field := range unionKeys(ref, gen) {
		path := "x-kubernetes-validations at " + field
		byRule := func(rs []apiextensionsv1.ValidationRule) map[string]apiextensionsv1.ValidationRule {
			out := map[string]apiextensionsv1.ValidationRule{}
			for _, r := range rs {
				out[r.Rule] = r
			}
			return out
		}
		r, g := byRule(ref[field]), byRule(gen[field])
		for _, rule := range unionKeys(r, g) {
			rr, inRef := r[rule]
			gr, inGen := g[rule]
			switch {
			case !inGen:
				add(path, fmt.Sprintf("rule %q only in the reference", rule))
			case !inRef:
				add(path, fmt.Sprintf("rule %q only in the generated CRD", rule))
			case !reflect.DeepEqual(rr, gr):
				add(path, fmt.Sprintf("rule %q: reference %s, generated %s", rule, short(toJSON(rr)), short(toJSON(gr))))
			}
		}
	}
}

// diffValues reports, with a JSON path, every place where two generic JSON
// values differ.
func diffValues(path string, ref, gen any, add func(path, detail string)) {
	rm, rok := ref.(map[string]any)
	gm, gok := gen.(map[string]any)
	if rok && gok {
		for _, k := range unionKeys(rm, gm) {
			rv, inRef := rm[k]
			gv, inGen := gm[k]
			p := path + "." + k
			switch {
			case !inGen:
				add(p, "only in the reference: "+short(rv))
			case !inRef:
				add(p, "only in the generated CRD: "+short(gv))
			default:
				diffValues(p, rv, gv, add)
			}
		}
		return
	}
	rl, rok := ref.([]any)
	gl, gok := gen.([]any)
	if rok && gok && len(rl) == len(gl) {
		for i := range rl {
			diffValues(fmt.Sprintf("%s[%d]", path, i), rl[i], gl[i], add)
		}
		return
	}
	if !reflect.DeepEqual(ref, gen) {
		add(path, fmt.Sprintf("reference %s, generated %s", short(ref), short(gen)))
	}
}

// toJSON converts v to generic JSON (maps, slices, strings, float64, bool).
func toJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

func unionKeys[V any](a, b map[string]V) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// TestDiffDetectsChanges makes sure the comparison in
// TestEmbeddedCRDsMatchReference is not vacuous: it must see a changed
// pattern, a dropped CEL rule, a served flag, a changed short name and a
// missing version, and must not see a changed description.
func TestDiffDetectsChanges(t *testing.T) {
	crds := decodeCRDs(t, [][]byte{FluxCRDs()["helm.toolkit.fluxcd.io_helmreleases.yaml"]})
	ref := crds["helmreleases.helm.toolkit.fluxcd.io"]
	if ref == nil {
		t.Fatal("no helmreleases CRD embedded")
	}
	if d := compareCRDs(ref, ref.DeepCopy()); len(d) != 0 {
		t.Fatalf("a CRD differs from its copy: %v", d)
	}

	gen := ref.DeepCopy()
	v2 := &gen.Spec.Versions[0]
	spec := v2.Schema.OpenAPIV3Schema.Properties["spec"]
	spec.Description = "changed"
	interval := spec.Properties["interval"]
	interval.Pattern = "^changed$"
	spec.Properties["interval"] = interval
	if len(spec.XValidations) == 0 {
		t.Fatal("HelmRelease v2 spec has no x-kubernetes-validations to drop")
	}
	dropped := spec.XValidations[0].Rule
	spec.XValidations = spec.XValidations[1:]
	v2.Schema.OpenAPIV3Schema.Properties["spec"] = spec
	v2.Served = false
	gen.Spec.Names.ShortNames = []string{"changed"}
	gen.Spec.Versions = append(gen.Spec.Versions, apiextensionsv1.CustomResourceDefinitionVersion{Name: "v9", Served: true})

	var got []string
	for _, d := range compareCRDs(ref, gen) {
		got = append(got, d.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"version v2: schema.openAPIV3Schema.properties.spec.properties.interval.pattern:",
		"version v2: x-kubernetes-validations at spec: rule " + fmt.Sprintf("%q", dropped) + " only in the reference",
		"version v2: spec.versions[].served: reference true, generated false",
		"spec.names.shortNames[0]:",
		"version v9: spec.versions: version only in the generated CRD",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("differences lack %q; got:\n%s", want, all)
		}
	}
	if strings.Contains(all, "description") {
		t.Errorf("a description change was reported:\n%s", all)
	}
	if len(got) != 5 {
		t.Errorf("want 5 differences, got %d:\n%s", len(got), all)
	}
}

// TestFlux checks that the embedded Flux CRDs build a Validator that serves
// the five kinds katonic renders, and that Flux and FluxCRDs behave as
// documented.
func TestFlux(t *testing.T) {
	v, err := Flux()
	if err != nil {
		t.Fatalf("Flux(): %v", err)
	}
	if v2, err := Flux(); v2 != v || err != nil {
		t.Errorf("second Flux() = %p, %v; want the same Validator %p", v2, err, v)
	}
	// Which kinds it knows is TestKinds' (crdschema_test.go); here, that
	// every served version of the embedded CRDs is one of them.
	kinds := v.Kinds()

	crds := FluxCRDs()
	if len(crds) == 0 {
		t.Fatal("FluxCRDs() is empty")
	}
	served := 0
	for name, b := range crds {
		if !strings.HasSuffix(name, ".yaml") || len(b) == 0 {
			t.Errorf("FluxCRDs()[%q]: %d bytes", name, len(b))
		}
		for _, c := range decodeCRDs(t, [][]byte{b}) {
			if want := c.Spec.Group + "_" + c.Spec.Names.Plural + ".yaml"; name != want {
				t.Errorf("file %s holds CRD %s; controller-gen names it %s", name, c.Name, want)
			}
			for _, ver := range c.Spec.Versions {
				if ver.Served {
					served++
				}
			}
		}
		b[0] ^= 0xff
	}
	if served != len(kinds) {
		t.Errorf("the embedded CRDs serve %d versions, Kinds() has %d", served, len(kinds))
	}
	for name, b := range FluxCRDs() {
		if b[0] != crds[name][0]^0xff {
			t.Errorf("FluxCRDs()[%q] shares memory with an earlier result", name)
		}
	}
}

// TestGeneratedFromPinnedModules fails when flux/ may be stale: when the root
// go.mod requires other Flux API module versions, or tools/go.mod another
// controller-gen, than generatedFrom (generate.go) records, or when an
// embedded CRD was written by another controller-gen.
func TestGeneratedFromPinnedModules(t *testing.T) {
	root := readRequires(t, "../../go.mod")
	for mod, want := range generatedFrom.fluxModules {
		if got := root[mod]; got != want {
			t.Errorf("go.mod requires %s %q, but flux/ was generated from %s; run `make generate`, then update generatedFrom in generate.go and the Flux docstring", mod, got, want)
		}
	}
	tools := readRequires(t, "../../tools/go.mod")
	if got := tools["sigs.k8s.io/controller-tools"]; got != generatedFrom.controllerGen {
		t.Errorf("tools/go.mod requires controller-tools %q, but flux/ was generated with %s; run `make generate`, then update generatedFrom in generate.go", got, generatedFrom.controllerGen)
	}
	for name, b := range FluxCRDs() {
		for _, c := range decodeCRDs(t, [][]byte{b}) {
			if got := c.Annotations["controller-gen.kubebuilder.io/version"]; got != generatedFrom.controllerGen {
				t.Errorf("%s was generated by controller-gen %q, want %s; run `make generate`", name, got, generatedFrom.controllerGen)
			}
		}
	}
}

// readRequires returns the module versions a go.mod file requires (directly
// or indirectly), read line by line: enough for go.mod files as the go
// command writes them (single-line `require` or a `require (` block).
func readRequires(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	inBlock := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "//")
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
		case inBlock && fields[0] == ")":
			inBlock = false
		case fields[0] == "require" && len(fields) == 2 && fields[1] == "(":
			inBlock = true
		case fields[0] == "require" && len(fields) == 3:
			out[fields[1]] = fields[2]
		case inBlock && len(fields) == 2:
			out[fields[0]] = fields[1]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
