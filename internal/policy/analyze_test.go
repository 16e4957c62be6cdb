package policy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	cueload "cuelang.org/go/cue/load"
	"cuelang.org/go/cue/parser"
	yaml "go.yaml.in/yaml/v3"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/fieldpath"
	"github.com/katonic/katonic/internal/testrepo"
)

// oddDocs are documents that exercise the built-in policies' corners:
// values missing, of another type, empty or null.
var oddDocs = []string{
	"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: a1, namespace: flux-system}\nspec:\n  chart: {spec: {version: 1.2}}\n  install: {remediation: {retries: '3'}}\n  upgrade: {remediation: {retries: 0.5}}\n  targetNamespace: 7\n",
	"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: a2, namespace: flux-system}\nspec:\n  chart: {spec: {version: [1]}}\n  install: null\n  upgrade: {remediation: []}\n  targetNamespace: ''\n",
	"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: a3, namespace: flux-system}\nspec:\n  chart: x\n  install: {remediation: {retries: -1}}\n  upgrade: {remediation: {retries: 2}}\n  targetNamespace: newns\n",
	"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: a4, namespace: flux-system}\nspec:\n  chart: {spec: {version: v1.2.3-rc.1}}\n  install: {remediation: {retries: true}}\n  targetNamespace: application\n",
	"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: a5, namespace: flux-system}\nspec: 5\n",
	"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: a6, namespace: flux-system}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\nmetadata: {name: c1, namespace: flux-system}\nspec: {version: '1.2.3'}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\nmetadata: {name: c2, namespace: flux-system}\nspec: {version: '^1.2'}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\nmetadata: {name: c3, namespace: flux-system}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: o1, namespace: flux-system}\nspec: {ref: main}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: o2, namespace: flux-system}\nspec: {ref: {semver: null}}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: o3, namespace: flux-system}\nspec: {ref: {tag: '', digest: ''}}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: o4, namespace: flux-system}\nspec: {ref: {tag: 5, digest: 6}}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: o5, namespace: flux-system}\nspec: {ref: {tag: latest, digest: 'sha256:1'}}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: o6, namespace: flux-system}\nspec: {ref: [1]}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: o7, namespace: flux-system}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: g1, namespace: flux-system}\nspec: {ref: {name: refs/tags/v1}}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: g2, namespace: flux-system}\nspec: {ref: {name: refs/heads/main}}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: g3, namespace: flux-system}\nspec: {ref: {commit: '', tag: '', semver: '1.x'}}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: g4, namespace: flux-system}\nspec: {ref: {name: 5}}\n",
	"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: g5, namespace: flux-system}\nspec: {ref: 'refs/tags/x'}\n",
	"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: k1, namespace: flux-system}\nspec: {prune: 'true'}\n",
	"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: k2, namespace: flux-system}\nspec: {prune: true, timeout: 5}\n",
	"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: k3, namespace: flux-system}\nspec: {prune: true, timeout: ''}\n",
	"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: k4, namespace: flux-system}\nspec: {prune: true, timeout: \"\\n\"}\n",
	"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nmetadata: {name: k5, namespace: flux-system}\nspec: {prune: true}\n",
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: n1}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: n1}\nspec: {podSelector: {matchLabels: null}, policyTypes: [Ingress]}\n",
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: n2}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: n2}\nspec: {podSelector: {matchLabels: x, matchExpressions: {}}, policyTypes: Ingress}\n",
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: n3}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: n3}\nspec: {podSelector: {matchExpressions: [{}]}, policyTypes: [Ingress]}\n",
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: n4}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: n4}\nspec: {podSelector: {}, policyTypes: [Ingress, 1], ingress: {}}\n",
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: n5}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: n5}\nspec: {podSelector: [], policyTypes: [Ingress], ingress: []}\n",
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: n6}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n",
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: n7}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: n7}\nspec: {podSelector: {matchLabels: {}, matchExpressions: []}, policyTypes: [Egress, Ingress], ingress: [{}]}\n",
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: n8}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: n8}\nspec: {podSelector: {matchLabels: {}, matchExpressions: []}, policyTypes: [Egress, Ingress]}\n",
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: 5}\n",
	"apiVersion: v2\nkind: Secret\nmetadata: {name: s1, namespace: n1}\n",
	"apiVersion: v1\nkind: Secret\nmetadata: {name: s2}\n",
	"apiVersion: v1\nkind: Secret\nmetadata: {name: enc, namespace: flux-system}\nstringData:\n  password: ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]\n  token: hunter2\nsops:\n  mac: ENC[AES256_GCM,data:zz]\n  age: [{recipient: age1, enc: \"-----BEGIN AGE ENCRYPTED FILE-----\"}]\n",
	"apiVersion: v1\nkind: Secret\nmetadata: {name: enc2, namespace: flux-system}\nstringData: {password: 'ENC[x,data:abc]'}\nsops: {secret: s}\n",
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: n1}\ndata:\n  token: true\n  apiKey: 12345\n  password: ${X}\n  db-pass: hunter2\n  passwordKey: k\n  existingSecret: s\n  tlsSecret: t\n  x: \"-----BEGIN EC PRIVATE KEY-----\"\n  y: \"id=AKIAIOSFODNN7EXAMPLE;\"\n  z: AKIAIOSFODNN7EXAMPLEX\n  list: [{secret: s3cr3t}]\n  private_key: ''\n  accessKey: 0x1f\n  q: \"a\\\"b\\\\c\\t\\u00e9 \\\\(x)\"\n",
	"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i1, namespace: n1}\nspec:\n  rules: [{host: evil.example}, {host: 5}]\n  tls: [{hosts: [a.example, 7]}]\n",
	"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: a7, namespace: flux-system}\nspec:\n  chart: {spec: {version: 1.2.3}}\n  install: {remediation: {retries: 3}}\n  upgrade: {remediation: {retries: 3}}\n  values:\n    ingresses: [{hosts: [x.example]}]\n    ingress: {host: 5, hosts: {a: b.example}}\n    a: {ingress: {tls: [{hosts: [c.example]}]}}\n    ingressx: {host: d.example}\n",
	"apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: dup, namespace: n1}\ndata: {a: 1, a: 2, b: *m, c: 3.0, d: -0.5, e: 1e3, f: ~}\n",
}

// userPolicies exercise what the analysis follows: lets, indexes, for
// clauses over literal lists, keyed for clauses, lengths, embedding,
// constants, shadowing, nested comprehensions and guards it cannot
// decide.
const userPolicies = `package policy

import (
	"encoding/json"
	"strings"
)

policies: "u-let-index": {
	severity: "warning", message: "m", source: "s"
	let objs = input.objects
	violations: [
		for o in objs if o.kind == "HelmRelease"
		let sp = o.object.spec
		for action in ["install", "upgrade"]
		if sp[action] != _|_
		if sp[action].remediation.retries > 2 {object: o.id, path: "spec.\(action)", detail: "\(sp[action].remediation.retries)"},
	]
}
policies: "u-const": {
	severity: "warning", message: "m", source: "s"
	let k = "Name" + "space"
	let ns = "Namespace"
	violations: [
		for o in input.objects if o.kind == ns if o.kind != k || o.name =~ "^a" {object: o.id, detail: o.name},
		for r in input.releases if r.service != "" if strings.HasPrefix(r.name, "m") {object: r.id, detail: strings.Join(r.pools, ",")},
	]
}
policies: "u-len": {
	severity: "warning", message: "m", source: "s"
	violations: [for o in input.objects if o.kind == "Namespace" {object: o.id, detail: "\(len(o.object.metadata))"}]
}
policies: "u-embed": {
	severity: "warning", message: "m", source: "s"
	violations: [for o in input.objects if o.kind == "IngressClass" {object: o.id, detail: json.Marshal(o)}]
}
policies: "u-leaves": {
	severity: "warning", message: "m", source: "s"
	violations: [
		for l in input.leaves if l.type == "number" if l.key != "retries" {object: l.id, path: l.path, detail: l.value},
		for l in input.leaves if strings.HasSuffix(l.value, ".example") {object: l.id, path: l.path, detail: l.kind},
	]
}
policies: "u-outer": {
	severity: "warning", message: "m", source: "s"
	violations: [for r in input.releases for o in input.objects if o.id == r.id if o.object.spec.releaseName != _|_ {object: o.id, detail: r.service}]
}
policies: "u-env": {
	severity: "warning", message: "m", source: "s"
	violations: [for k, v in input.environment.services if v.enabled {object: "Environment/\(input.environment.name)", path: "services.\(k)", detail: v.namespace}]
}
policies: "u-error": {
	severity: "warning", message: "m", source: "s"
	violations: [for o in input.objects if o.kind == "HelmRelease" if o.name != "postgres" {object: o.id, detail: o.object.spec.values.nothere}]
}
policies: "u-default-source": {
	severity: "warning", message: "m", source: "s"
	violations: [for o in *input.objects | [] if o.kind == "StorageClass" {object: o.id, detail: "\(o.object.provisioner)"}]
}
`

// userIndexed uses input.objects other than through guarded for clauses,
// which keeps every row.
const userIndexed = `package policy

policies: "u-first": {
	severity: "warning", message: "m", source: "s"
	violations: [
		if len(input.objects) > 2 {object: input.objects[2].id, detail: input.objects[len(input.objects)-1].kind},
		for i, o in input.objects if i < 3 {object: o.id, detail: "\(i)"},
	]
}
`

// userKeys iterates input itself.
const userKeys = "package policy\n\nlet all = input\npolicies: \"u-all\": {severity: \"warning\", message: \"m\", source: \"s\", violations: [for k, v in all if k == \"releases\" for r in v {object: r.id, detail: k}]}\n"

// userWhole refers to input in ways the analysis does not follow.
var userWhole = []string{
	"package policy\n\nX=_objs: input.objects\npolicies: \"u-alias\": {severity: \"warning\", message: \"m\", source: \"s\", violations: [for o in X if o.kind == \"Secret\" {object: o.id, detail: \"x\"}]}\n",
	"package policy\n\npolicies: \"u-input\": {severity: \"warning\", message: \"m\", source: \"s\", violations: [if input.environment.name != \"\" {object: \"Environment/\\(input.environment.name)\", detail: \"\\(len(input))\"}]}\n",
}

// withDocs returns files with the documents appended to env's
// postgres.yaml.
func withDocs(t *testing.T, env compile.EnvResult, files map[string][]byte, docs ...string) map[string][]byte {
	t.Helper()
	out := maps.Clone(files)
	for _, f := range env.Files {
		if strings.HasSuffix(f, "/postgres.yaml") {
			b := append([]byte(nil), out[f]...)
			for _, d := range docs {
				b = append(append(b, "---\n"...), d...)
			}
			out[f] = b
			return out
		}
	}
	t.Fatalf("%s: no postgres.yaml", env.Env.Name)
	return nil
}

// samePruned checks that set gives the same results with and without
// pruning, over acme-azure alone and with all the odd documents; when
// all is set, also over the other examples, and acme-azure with each odd
// document.
func samePruned(t *testing.T, set *Set, all bool) {
	t.Helper()
	res, _ := examples(t)
	for _, e := range res.Envs {
		if !all && e.Env.Name != "acme-azure" {
			continue
		}
		env := envOf(t, res, e.Env.Name)
		cases := map[string]map[string][]byte{"as rendered": res.Files, "all odd documents": withDocs(t, env, res.Files, oddDocs...)}
		for i, d := range oddDocs {
			if all && e.Env.Name == "acme-azure" {
				cases[fmt.Sprintf("odd document %d", i)] = withDocs(t, env, res.Files, d)
			}
		}
		for name, files := range cases {
			set.full = false
			got, err1 := set.Evaluate(env, files, "out")
			set.full = true
			want, err2 := set.Evaluate(env, files, "out")
			set.full = false
			if fmt.Sprint(err1) != fmt.Sprint(err2) || !reflect.DeepEqual(got, want) {
				t.Errorf("%s, %s: pruned input gives\n%+v, %v\nwhole input gives\n%+v, %v", e.Env.Name, name, got, err1, want, err2)
			}
		}
	}
}

// TestPrunedInput checks that giving CUE only what the policies read
// changes no result, for the built-in policies and for policies that use
// input in every way the analysis follows, or does not.
func TestPrunedInput(t *testing.T) {
	t.Run("built-in", func(t *testing.T) {
		_, set := examples(t)
		samePruned(t, set, true)
	})
	for name, src := range map[string]string{"followed": userPolicies, "indexed": userIndexed, "keys": userKeys} {
		t.Run(name, func(t *testing.T) {
			set, d, err := Load(testrepo.New(t, repoRoot, map[string]string{"policy/user.cue": src}))
			if err != nil {
				t.Fatal(err, d)
			}
			if set.usage.input.whole {
				t.Error("the analysis gave up")
			}
			samePruned(t, set, false)
		})
	}
	for i, src := range userWhole {
		t.Run(fmt.Sprintf("whole %d", i), func(t *testing.T) {
			set, d, err := Load(testrepo.New(t, repoRoot, map[string]string{"policy/user.cue": src}))
			if err != nil {
				t.Fatal(err, d)
			}
			if !set.usage.input.whole {
				t.Errorf("the analysis followed %q", src)
			}
			samePruned(t, set, false)
		})
	}
}

// TestBuiltinUsage checks that the analysis follows the built-in
// policies: they get a small part of input.
func TestBuiltinUsage(t *testing.T) {
	res, set := examples(t)
	u := set.usage
	if u.input.whole || u.filter("objects") == nil || u.filter("leaves") == nil {
		t.Fatalf("the analysis does not follow the built-in policies: %+v", u)
	}
	if _, ok := u.input.child("objects").fields["0"]; ok {
		t.Errorf("input.objects is indexed")
	}
	env := envOf(t, res, "acme-azure")
	docs, _, _, err := parseFiles(env, res.Files, nil, "out")
	if err != nil {
		t.Fatal(err)
	}
	in := materialize(u, newInput(env), docs, &matchCache{})
	objs, leaves := in["objects"].([]any), in["leaves"].([]any)
	if len(objs) == 0 || len(objs) >= len(docs) || len(leaves) > 20 {
		t.Errorf("%d of %d objects, %d leaves", len(objs), len(docs), len(leaves))
	}
	for _, o := range objs {
		obj, _ := o.(map[string]any)["object"].(map[string]any)
		if spec, ok := obj["spec"].(map[string]any); ok && spec["values"] != nil {
			t.Errorf("HelmRelease values given to CUE: %v", o)
		}
	}
}

// TestInputMatchesSchema checks that the whole input katonic builds for
// every example matches #Input of policy/policy.cue: Evaluate does not
// unify input with #Input (policy/input.cue).
func TestInputMatchesSchema(t *testing.T) {
	res, _ := examples(t)
	abs, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cuecontext.New()
	pkg := ctx.BuildInstance(cueload.Instances([]string{"./" + Dir}, &cueload.Config{Dir: abs})[0])
	schema := pkg.LookupPath(cue.ParsePath("#Input"))
	if err := schema.Err(); err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Envs {
		env := envOf(t, res, e.Env.Name)
		files := withDocs(t, env, res.Files, oddDocs...)
		docs, _, _, err := parseFiles(env, files, nil, "out")
		if err != nil {
			t.Fatal(err)
		}
		data := ctx.CompileBytes(appendCUE(nil, materialize(fullUsage(), newInput(env), docs, nil)))
		if err := schema.Unify(data).Validate(cue.Concrete(true)); err != nil {
			t.Errorf("%s: %v", e.Env.Name, err)
		}
	}
}

// TestOpenInput checks that the evaluators fill input: _ in place of
// policy/input.cue, and that a policy set without that file (input:
// #Input elsewhere) gives the same results.
func TestOpenInput(t *testing.T) {
	_, set := examples(t)
	if set.inst == nil || len(set.inst.Files) == 0 {
		t.Fatal("no instance")
	}
	open := false
	for _, f := range set.inst.Files {
		if filepath.Base(f.Filename) == "input.cue" {
			open = !declaresOnlyInput(f)
		}
	}
	if !open {
		t.Error("the evaluators unify input with #Input")
	}
	policyCUE, err := os.ReadFile(filepath.Join(repoRoot, Dir, "policy.cue"))
	if err != nil {
		t.Fatal(err)
	}
	closed, d, err := Load(testrepo.New(t, repoRoot, map[string]string{
		"policy/input.cue":  "package policy\n",
		"policy/policy.cue": string(policyCUE) + "\ninput: #Input\n",
	}))
	if err != nil {
		t.Fatal(err, d)
	}
	for _, f := range closed.inst.Files {
		if filepath.Base(f.Filename) == "input.cue" && len(f.Decls) > 1 {
			t.Errorf("input.cue: %d declarations", len(f.Decls))
		}
	}
	res, _ := examples(t)
	for _, e := range res.Envs {
		env := envOf(t, res, e.Env.Name)
		files := withDocs(t, env, res.Files, oddDocs...)
		want, err1 := set.Evaluate(env, files, "out")
		got, err2 := closed.Evaluate(env, files, "out")
		if err1 != nil || err2 != nil || !reflect.DeepEqual(got.Violations, want.Violations) {
			t.Errorf("%s: with input: #Input\n%+v %v\nwithout\n%+v %v", e.Env.Name, got, err2, want, err1)
		}
	}
}

// TestObjectLines checks objectPos.line, which walks the YAML nodes,
// against a table of every path of every document.
func TestObjectLines(t *testing.T) {
	res, _ := examples(t)
	for _, e := range res.Envs {
		env := envOf(t, res, e.Env.Name)
		files := withDocs(t, env, res.Files, oddDocs...)
		_, objs, _, err := parseFiles(env, files, nil, "out")
		if err != nil {
			t.Fatal(err)
		}
		for id, o := range objs {
			lines := map[string]int{}
			recordLines(o.root, nil, lines)
			for p, want := range lines {
				if got := o.line(p); got != want {
					t.Errorf("%s %s: line %d, want %d", id, p, got, want)
				}
				if got := o.line(p + ".nothere"); got != want {
					t.Errorf("%s %s.nothere: line %d, want %d", id, p, got, want)
				}
			}
			if got := o.line("nothere"); got != o.start {
				t.Errorf("%s: line of a missing path %d, want %d", id, got, o.start)
			}
		}
	}
}

// recordLines records the line of every path under n, later keys
// overwriting earlier ones, as katonic did before it looked lines up.
func recordLines(n *yaml.Node, segs []string, lines map[string]int) {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			sub := append(segs[:len(segs):len(segs)], n.Content[i].Value)
			lines[fieldpath.Join(sub)] = n.Content[i].Line
			recordLines(n.Content[i+1], sub, lines)
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			sub := append(segs[:len(segs):len(segs)], fmt.Sprint(i))
			lines[fieldpath.Join(sub)] = v.Line
			recordLines(v, sub, lines)
		}
	}
}

// TestAppendCUE checks that values written as CUE read back unchanged,
// floats as floats.
func TestAppendCUE(t *testing.T) {
	ctx := cuecontext.New()
	strs := map[string]string{"s": "a\"b\\c\n\t\x7f\u2028é \\(x) \x01", "bad": "\xff", "a.b[c": "d", "": "e"}
	in := map[string]any{
		"i": int64(-3), "n": 7, "f": 3.0, "g": -2.5e-12, "h": 1e21, "b": true, "null": nil,
		"list": []any{map[string]any{"k y": []any{}}, "x"},
	}
	for k, v := range strs {
		in[k] = v
	}
	strs["bad"] = "\ufffd"
	v := ctx.CompileBytes(appendCUE(nil, in))
	if err := v.Err(); err != nil {
		t.Fatal(err)
	}
	for k, want := range strs {
		if got, err := v.LookupPath(cue.MakePath(cue.Str(k))).String(); err != nil || got != want {
			t.Errorf("%q = %q, %v; want %q", k, got, err, want)
		}
	}
	for k, want := range map[string]int64{"i": -3, "n": 7} {
		x := v.LookupPath(cue.ParsePath(k))
		if got, err := x.Int64(); err != nil || got != want || x.Kind() != cue.IntKind {
			t.Errorf("%s = %v (%v), want int %d", k, x, err, want)
		}
	}
	for k, want := range map[string]float64{"f": 3, "g": -2.5e-12, "h": 1e21} {
		x := v.LookupPath(cue.ParsePath(k))
		if got, err := x.Float64(); err != nil || got != want || x.Kind() != cue.FloatKind {
			t.Errorf("%s = %v (%v), want float %g", k, x, err, want)
		}
	}
	if b, err := v.LookupPath(cue.ParsePath("b")).Bool(); err != nil || !b {
		t.Errorf("b = %v, %v", b, err)
	}
	if err := v.LookupPath(cue.MakePath(cue.Str("null"))).Null(); err != nil {
		t.Errorf("null: %v", err)
	}
	var list []any
	if err := v.LookupPath(cue.ParsePath("list")).Decode(&list); err != nil || fmt.Sprint(list) != "[map[k y:[]] x]" {
		t.Errorf("list = %v, %v", list, err)
	}
}

// TestAnalyzeScopes checks that the analysis resolves names as CUE does.
func TestAnalyzeScopes(t *testing.T) {
	tests := []struct {
		name, src string
		whole     bool
		filtered  bool // input.objects is filtered
	}{
		{"quoted labels are not references", `package policy
x: {"input": 1, v: [for o in input.objects if o.kind == "A" {o.id}]}`, false, true},
		{"a field named input", `package policy
x: {input: {objects: []}, v: [for o in input.objects {o}]}`, true, false},
		{"a field, not a constant", `package policy
x: {
	k: "A"
	y: {v: [for o in input.objects if o.kind == k {o.id}]}
}`, false, false},
		{"a constant", `package policy
x: {
	let k = "A"
	y: {v: [for o in input.objects if o.kind == k {o.id}]}
}`, false, true},
		{"self", `package policy
x: {v: self.input}`, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parser.ParseFile("user.cue", tc.src)
			if err != nil {
				t.Fatal(err)
			}
			input, err := parser.ParseFile("input.cue", "package policy\ninput: _\n")
			if err != nil {
				t.Fatal(err)
			}
			u := analyze([]*ast.File{input, f})
			if u.input.whole != tc.whole {
				t.Errorf("whole = %v, want %v", u.input.whole, tc.whole)
			}
			f2 := u.filter("objects")
			filtered := f2 != nil && len(f2.uses) > 0 && len(f2.uses[0].clauses) > 0
			if filtered != tc.filtered {
				t.Errorf("filtered = %v, want %v", filtered, tc.filtered)
			}
		})
	}
}
