package render

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/crdschema"
	"github.com/katonic/katonic/internal/secrets"
)

// secretFile reads a SOPS-encrypted fixture of internal/secrets and checks
// it as katonic render does before rendering, under secrets/acme/<name>.
func secretFile(t *testing.T, fixture, name string) secrets.File {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "secrets", "testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	f, err := secrets.CheckFile("secrets/acme/"+name, b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func testSecretFiles(t *testing.T) []secrets.File {
	return []secrets.File{
		secretFile(t, "superset-tls.yaml", "superset-tls.yaml"),
		secretFile(t, "postgres-credentials.yaml", "postgres.yaml"),
	}
}

func hasSecretRef(res *Result, ns, name string) (SecretRef, bool) {
	for _, s := range res.Secrets {
		if s.Namespace == ns && s.Name == name {
			return s, true
		}
	}
	return SecretRef{}, false
}

// TestSecretsLayer: with Options.Secrets, the files are copied byte for
// byte under environments/<env>/secrets/, a Flux Kustomization "secrets"
// decrypts them with the age key of flux-system/sops-age, the layers that
// read Secrets depend on it, and Result.Secrets trades the provided Secrets
// for the age key.
func TestSecretsLayer(t *testing.T) {
	for _, p := range profiles {
		t.Run(string(p), func(t *testing.T) {
			env := testEnv("acme", p)
			files := testSecretFiles(t)
			plain := mustRender(t, env, Options{PathPrefix: "./out"})
			res := mustRender(t, env, Options{PathPrefix: "./out", Secrets: files})

			// the files, untouched
			for _, f := range files {
				got, ok := res.Files["environments/acme/secrets/"+f.Name]
				if !ok || !bytes.Equal(got, f.Data) {
					t.Errorf("%s: not copied byte for byte", f.Name)
				}
			}
			var k map[string]any
			kb := res.Files["environments/acme/secrets/kustomization.yaml"]
			if err := yaml.Unmarshal(kb, &k); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(kb, []byte(Header(env.File))) || !reflect.DeepEqual(k, map[string]any{
				"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
				"resources": []any{"postgres.yaml", "superset-tls.yaml"},
			}) {
				t.Errorf("secrets kustomization.yaml:\n%s", kb)
			}

			// every other file is what it was, but the dependsOn of platform and addons
			for name, b := range plain.Files {
				if name == "clusters/acme/platform.yaml" || name == "clusters/acme/addons.yaml" || name == "clusters/acme/kustomization.yaml" {
					continue
				}
				if !bytes.Equal(res.Files[name], b) {
					t.Errorf("%s changed", name)
				}
			}
			var added []string
			for name := range res.Files {
				if _, ok := plain.Files[name]; !ok {
					added = append(added, name)
				}
			}
			slices.Sort(added)
			if want := []string{"clusters/acme/secrets.yaml", "environments/acme/secrets/kustomization.yaml",
				"environments/acme/secrets/postgres.yaml", "environments/acme/secrets/superset-tls.yaml"}; !reflect.DeepEqual(added, want) {
				t.Errorf("added files %v, want %v", added, want)
			}

			// the Flux Kustomization
			objs := objects(t, map[string][]byte{"clusters/acme/secrets.yaml": res.Files["clusters/acme/secrets.yaml"]})
			if len(objs) != 1 {
				t.Fatalf("clusters/acme/secrets.yaml holds %d objects", len(objs))
			}
			sk := objs[0]
			if sk.kind() != "Kustomization" || sk.name() != "secrets" || get(sk.m, "metadata.namespace") != "flux-system" {
				t.Errorf("secrets Kustomization: %v", sk.m)
			}
			for _, c := range []struct {
				path string
				want any
			}{
				{"spec.decryption", map[string]any{"provider": "sops", "secretRef": map[string]any{"name": "sops-age"}}},
				{"spec.path", "./out/environments/acme/secrets"},
				{"spec.prune", true},
				{"spec.wait", true},
				{"spec.sourceRef", map[string]any{"kind": "GitRepository", "name": "flux-system"}},
				{"spec.dependsOn", nil},
				{"spec.targetNamespace", nil},
				{"spec.patches", nil},
			} {
				if got := get(sk.m, c.path); !reflect.DeepEqual(got, c.want) {
					t.Errorf("secrets Kustomization %s = %v, want %v", c.path, got, c.want)
				}
			}

			// dependsOn edges and the cluster's resources
			all := objects(t, res.Files)
			for name, want := range map[string][]string{
				"infrastructure":    nil,
				"platform":          {"infrastructure", "secrets"},
				"addons":            {"platform", "secrets"},
				"pipelines-cluster": {"infrastructure"},
				"pipelines":         {"infrastructure", "pipelines-cluster"},
			} {
				o, ok := find(all, "Kustomization", name)
				if !ok {
					t.Fatalf("no Kustomization %s", name)
				}
				if got := dependsOn(o); !reflect.DeepEqual(got, want) {
					t.Errorf("%s dependsOn %v, want %v", name, got, want)
				}
			}
			var ck map[string]any
			if err := yaml.Unmarshal(res.Files["clusters/acme/kustomization.yaml"], &ck); err != nil {
				t.Fatal(err)
			}
			if got, want := ck["resources"], []any{"infrastructure.yaml", "secrets.yaml", "platform.yaml", "pipelines.yaml", "addons.yaml"}; !reflect.DeepEqual(got, want) {
				t.Errorf("clusters/acme resources %v, want %v", got, want)
			}

			// Result.Secrets
			for _, id := range [][2]string{{"flux-system", "postgres-credentials"}, {"istio-system", "superset-tls"}} {
				if _, ok := hasSecretRef(plain, id[0], id[1]); !ok {
					t.Fatalf("%s/%s not needed without secrets: the test proves nothing", id[0], id[1])
				}
				if _, ok := hasSecretRef(res, id[0], id[1]); ok {
					t.Errorf("%s/%s is provided but still listed", id[0], id[1])
				}
			}
			key, ok := hasSecretRef(res, "flux-system", "sops-age")
			if !ok || !reflect.DeepEqual(key.Keys, []string{"age.agekey"}) || key.Purpose == "" {
				t.Errorf("sops-age: %+v %v", key, ok)
			}
			if len(res.Secrets) != len(plain.Secrets)-1 {
				t.Errorf("%d Secrets with secrets, %d without: want one less (two provided, sops-age added)", len(res.Secrets), len(plain.Secrets))
			}
			if _, ok := hasSecretRef(plain, "flux-system", "sops-age"); ok {
				t.Error("sops-age listed without secrets")
			}
		})
	}
}

// TestSecretsKustomizeBuild: every rendered directory builds with kustomize,
// and the secrets directory yields the Secrets exactly as encrypted (the
// sops metadata and the ENC[...] values untouched), as kustomize-controller
// builds them before decrypting.
func TestSecretsKustomizeBuild(t *testing.T) {
	files := testSecretFiles(t)
	res := mustRender(t, testEnv("acme", config.ProfileAzurePrivate), Options{PathPrefix: "./out", Secrets: files})
	root := writeTree(t, res.Files)
	dirs := map[string]bool{}
	for f := range res.Files {
		dirs[filepath.Dir(f)] = true
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	for _, d := range sortedKeys(dirs) {
		m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, d))
		if err != nil {
			t.Errorf("kustomize build %s: %v", d, err)
			continue
		}
		if d != filepath.FromSlash("environments/acme/secrets") {
			continue
		}
		if len(m.Resources()) != len(files) {
			t.Fatalf("secrets build: %d resources", len(m.Resources()))
		}
		for _, r := range m.Resources() {
			got, err := r.Map()
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			for _, f := range files {
				if f.Secrets[0].Name == r.GetName() {
					if err := yaml.Unmarshal(f.Data, &want); err != nil {
						t.Fatal(err)
					}
				}
			}
			if want == nil || !reflect.DeepEqual(got, want) {
				t.Errorf("kustomize changed Secret %s:\n got %v\nwant %v", r.GetName(), got, want)
			}
			if get(got, "sops.mac") == nil {
				t.Errorf("Secret %s lost its sops metadata", r.GetName())
			}
		}
	}
}

// TestSecretsKustomizationValidates: the secrets Kustomization is valid for
// the API server (the Flux CRD's schema and CEL rules).
func TestSecretsKustomizationValidates(t *testing.T) {
	v, err := crdschema.Flux()
	if err != nil {
		t.Fatal(err)
	}
	res := mustRender(t, testEnv("acme", config.ProfileCloud), Options{PathPrefix: "./out", Secrets: testSecretFiles(t)})
	for _, name := range []string{"secrets", "platform", "addons"} {
		var obj map[string]any
		if err := yaml.Unmarshal(res.Files["clusters/acme/"+name+".yaml"], &obj); err != nil {
			t.Fatal(err)
		}
		for _, e := range v.Validate(obj) {
			t.Errorf("%s: %v", name, e)
		}
	}
}

// TestNoSecretsNoChange: without secrets (nil or empty), the render is what
// it always was: no secrets layer, no sops-age.
func TestNoSecretsNoChange(t *testing.T) {
	for _, p := range profiles {
		env := testEnv("acme", p)
		a := mustRender(t, env, Options{PathPrefix: "./out"})
		b := mustRender(t, env, Options{PathPrefix: "./out", Secrets: []secrets.File{}})
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: empty Secrets changes the render", p)
		}
		for f, data := range a.Files {
			if strings.Contains(f, "secrets") || bytes.Contains(data, []byte("decryption")) || bytes.Contains(data, []byte("name: secrets")) {
				t.Errorf("%s: %s mentions the secrets layer", p, f)
			}
		}
	}
}

// TestSecretsDeterministic: the order of Options.Secrets does not matter,
// the caller's slice and bytes are not modified nor shared.
func TestSecretsDeterministic(t *testing.T) {
	env := testEnv("acme", config.ProfileOnPrem)
	files := testSecretFiles(t)
	a := mustRender(t, env, Options{Secrets: files})
	rev := []secrets.File{files[1], files[0]}
	b := mustRender(t, env, Options{Secrets: rev})
	if !reflect.DeepEqual(a, b) {
		t.Error("the order of Options.Secrets changes the render")
	}
	if rev[0].Name != "postgres.yaml" {
		t.Error("Options.Secrets was reordered")
	}
	a.Files["environments/acme/secrets/postgres.yaml"][0] = 'X'
	if files[1].Data[0] == 'X' {
		t.Error("Result.Files shares the caller's bytes")
	}
}

// TestSecretsBytes: whatever the bytes (no trailing newline, CRLF,
// comments, an unusual indent), they are copied as they are.
func TestSecretsBytes(t *testing.T) {
	f := secretFile(t, "postgres-credentials.yaml", "postgres.yaml")
	for _, data := range [][]byte{
		bytes.TrimSuffix(f.Data, []byte("\n")),
		bytes.ReplaceAll(f.Data, []byte("\n"), []byte("\r\n")),
		append([]byte("# encrypted with sops 3.10\n"), f.Data...),
	} {
		g := f
		g.Data = data
		res := mustRender(t, testEnv("acme", config.ProfileCloud), Options{Secrets: []secrets.File{g}})
		if !bytes.Equal(res.Files["environments/acme/secrets/postgres.yaml"], data) {
			t.Errorf("bytes changed for %q...", data[:20])
		}
	}
}

func TestSecretsErrors(t *testing.T) {
	pg := secretFile(t, "postgres-credentials.yaml", "postgres.yaml")
	with := func(mut func(*secrets.File)) secrets.File {
		f := pg
		f.Secrets = slices.Clone(pg.Secrets)
		mut(&f)
		return f
	}
	cases := []struct {
		name  string
		files []secrets.File
		want  string
	}{
		{"the age key itself", []secrets.File{with(func(f *secrets.File) { f.Secrets[0].Name = "sops-age" })}, "flux-system/sops-age holds the key Flux decrypts secrets/acme/ with"},
		{"unknown namespace", []secrets.File{with(func(f *secrets.File) { f.Secrets[0].Namespace = "payments" })}, `namespace "payments" is neither created for environment acme`},
		{"missing key", []secrets.File{with(func(f *secrets.File) { f.Secrets[0].Keys = []string{"password"} })}, "Secret flux-system/postgres-credentials lacks key postgres-password"},
		{"same Secret twice", []secrets.File{pg, with(func(f *secrets.File) { f.Name, f.Path = "pg2.yaml", "secrets/acme/pg2.yaml" })}, "Secret flux-system/postgres-credentials is also in secrets/acme/pg2.yaml"},
		{"reserved name", []secrets.File{with(func(f *secrets.File) { f.Name = "Kustomization.yaml" })}, "reserved"},
		{"not a file name", []secrets.File{with(func(f *secrets.File) { f.Name = "../x.yaml" })}, "not a plain"},
		{"case collision", []secrets.File{pg, with(func(f *secrets.File) { f.Name, f.Secrets = "Postgres.yaml", nil })}, "collides"},
	}
	for _, c := range cases {
		_, err := Environment(testEnv("acme", config.ProfileCloud), Options{Secrets: c.files})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	// A Secret katonic does not reference, in a pre-existing namespace, is fine.
	extra := with(func(f *secrets.File) {
		f.Secrets[0] = secrets.Ref{Namespace: "kube-system", Name: "extra", Keys: []string{"x"}}
	})
	res := mustRender(t, testEnv("acme", config.ProfileCloud), Options{Secrets: []secrets.File{extra}})
	if _, ok := hasSecretRef(res, "flux-system", "postgres-credentials"); !ok {
		t.Error("postgres-credentials no longer listed although not provided")
	}
}
