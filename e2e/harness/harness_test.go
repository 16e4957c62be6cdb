package harness

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/katonic/katonic/internal/diff"
	"github.com/katonic/katonic/internal/fieldpath"
)

var fieldpathSplit = fieldpath.Split

// The PKI's server certificate is valid for 127.0.0.1 under its CA, and
// its admin client certificate is accepted by a server that requires it.
func TestPKI(t *testing.T) {
	p, err := NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	serverPair, err := tls.LoadX509KeyPair(p.Path(serverCert), p.Path(serverKey))
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(p.Path(caCert))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("ca.crt is not a PEM certificate")
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.Organization[0] != "system:masters" {
			http.Error(w, "no admin", http.StatusForbidden)
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverPair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	defer srv.Close()
	c := &Cluster{PKI: p}
	if err := c.apiReady(srv.URL); err != nil {
		t.Errorf("admin against the PKI's server: %v", err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := p.Kubeconfig(kc, srv.URL); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(kc)
	for _, want := range []string{"server: " + srv.URL, p.Path(caCert), p.Path(adminCert)} {
		if !strings.Contains(string(b), want) {
			t.Errorf("kubeconfig lacks %q", want)
		}
	}
}

func TestAddMirror(t *testing.T) {
	f := filepath.Join(t.TempDir(), "e.cue")
	src := "package environments\n\nenvironments: e: {\n\tprofile: \"cloud\"\n}\n"
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := addMirror(f, "http://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f)
	want := "environments: e: {\n\tprofile: \"cloud\"\n\tcharts: mirror: \"http://127.0.0.1:1\"\n}\n"
	if !strings.HasSuffix(string(b), want) {
		t.Errorf("got\n%s", b)
	}
	if err := addMirror(f, "http://127.0.0.1:2"); err == nil {
		t.Error("a second mirror was added")
	}
}

func TestResultOK(t *testing.T) {
	r := &Result{Kustomizations: 3, KustomizationsReady: 3, HelmReleases: 2, HelmReleasesReady: 2, Pods: 4, PodsScheduled: 4, PodsOnPool: 4}
	if !r.OK() {
		t.Error("a Ready result is not OK")
	}
	r.PodsOnPool = 3
	if r.OK() {
		t.Error("a pod off its pool is OK")
	}
	r.PodsOnPool, r.Failures = 4, []string{"HelmRelease/flux-system/x: InstallFailed: ..."}
	if r.OK() {
		t.Error("a failure is OK")
	}
}

// lookup reads the paths katonic diff writes: keys, indexes and the
// entries of named lists ([name=value]).
func TestLookup(t *testing.T) {
	obj := map[string]any{"spec": map[string]any{
		"dependsOn": []any{map[string]any{"name": "infrastructure"}, map[string]any{"name": "platform"}},
		"values":    map[string]any{"a.b/c": "x", "hosts": []any{"h0", "h1"}},
	}}
	for _, tc := range []struct {
		path  string
		want  any
		found bool
	}{
		{"spec.dependsOn[name=platform].name", "platform", true},
		{"spec.dependsOn[1].name", "platform", true},
		{"spec.dependsOn[name=addons]", nil, false},
		{"spec.values[\"a.b/c\"]", "x", true},
		{"spec.values.hosts[1]", "h1", true},
		{"spec.values.hosts[2]", nil, false},
		{"spec.values.hosts.x", nil, false},
		{"spec.missing", nil, false},
	} {
		got, found := lookup(obj, fieldpathSplit(tc.path))
		if found != tc.found || (found && got != tc.want) {
			t.Errorf("lookup(%s) = %v, %v; want %v, %v", tc.path, got, found, tc.want, tc.found)
		}
	}
}

// A change holds when the live value has every key and element of the new
// one: the API server's defaults beside them do not matter, a different
// value or a missing key does.
func TestFieldHolds(t *testing.T) {
	live := map[string]any{"spec": map[string]any{
		"interval":    "10m0s",
		"replicas":    int64(2),
		"tolerations": []any{map[string]any{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}},
	}}
	for _, tc := range []struct {
		f  diff.FieldChange
		ok bool
	}{
		{diff.FieldChange{Path: "spec.interval", Change: diff.FieldModified, New: "10m0s"}, true},
		{diff.FieldChange{Path: "spec.interval", Change: diff.FieldModified, New: "5m0s"}, false},
		{diff.FieldChange{Path: "spec.replicas", Change: diff.FieldModified, New: "2"}, true},
		{diff.FieldChange{Path: "spec.tolerations", Change: diff.FieldAdded, New: "[{key: k, value: v, effect: NoSchedule}]"}, true},
		{diff.FieldChange{Path: "spec.tolerations", Change: diff.FieldAdded, New: "[{key: k, value: w}]"}, false},
		{diff.FieldChange{Path: "spec.tolerations", Change: diff.FieldAdded, New: "[{key: k}, {key: l}]"}, false},
		{diff.FieldChange{Path: "spec.suspend", Change: diff.FieldAdded, New: "true"}, false},
		{diff.FieldChange{Path: "spec.suspend", Change: diff.FieldRemoved}, true},
		{diff.FieldChange{Path: "spec.interval", Change: diff.FieldRemoved}, false},
		{diff.FieldChange{Path: "spec.interval", Change: diff.FieldModified, Redacted: true}, true},
	} {
		msg := fieldHolds(live, tc.f)
		if (msg == "") != tc.ok {
			t.Errorf("%s %s %q: holds = %q, want ok=%v", tc.f.Change, tc.f.Path, tc.f.New, msg, tc.ok)
		}
	}
}

func TestSetVersions(t *testing.T) {
	f := filepath.Join(t.TempDir(), "e.cue")
	src := "environments: e: {\n\tplatformVersion:   \"4.5\"\n\tkubernetesVersion: \"1.27.16\"\n}\n"
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := setVersions(f, Upgrade{PlatformVersion: "5.0.9", KubernetesVersion: "1.29.0"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f)
	want := "environments: e: {\n\tplatformVersion:   \"5.0.9\"\n\tkubernetesVersion: \"1.29.0\"\n}\n"
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
	if err := os.WriteFile(f, []byte("environments: e: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := setVersions(f, Upgrade{PlatformVersion: "5.0.9"}); err == nil {
		t.Error("a file without platformVersion was changed")
	}
}

// A dependsOn cycle among live objects is reported in katonic's graph
// package's words; a chain is not.
func TestLiveCycles(t *testing.T) {
	ks := func(name string, deps ...string) unstructured.Unstructured {
		var d []any
		for _, n := range deps {
			d = append(d, map[string]any{"name": n})
		}
		spec := map[string]any{"path": "./out/environments/e/" + name, "sourceRef": map[string]any{"kind": "GitRepository", "name": "flux-system"}}
		if d != nil {
			spec["dependsOn"] = d
		}
		return unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
			"metadata": map[string]any{"name": name, "namespace": "flux-system"}, "spec": spec}}
	}
	if got := liveCycles("e", []unstructured.Unstructured{ks("infrastructure"), ks("platform", "infrastructure")}); len(got) != 0 {
		t.Errorf("a chain reported as %v", got)
	}
	got := liveCycles("e", []unstructured.Unstructured{ks("infrastructure", "platform"), ks("platform", "infrastructure")})
	if len(got) != 1 || !strings.HasPrefix(got[0], "dependsOn cycle among") {
		t.Errorf("the cycle reported as %v", got)
	}
}

func TestNegativeResultOK(t *testing.T) {
	r := &Result{Negative: true, Kustomizations: 1, KustomizationsReady: 1}
	if r.OK() {
		t.Error("a negative run without its expected failure is OK")
	}
	r.Expected = "Pod/a/b: Unschedulable: 0/2 nodes are available: 2 Insufficient memory."
	if !r.OK() {
		t.Error("a negative run with its expected failure is not OK")
	}
}

// A process started from dir is a leftover until it is stopped.
func TestLeftovers(t *testing.T) {
	dir := t.TempDir()
	sleep, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Skipf("no /bin/sleep: %v", err)
	}
	bin := filepath.Join(dir, "sleep")
	if err := os.WriteFile(bin, sleep, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := Start("sleep", bin, []string{"60"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := Leftovers(dir); len(got) != 1 || !strings.HasPrefix(got[0], "sleep (pid ") {
		t.Errorf("running: Leftovers = %v", got)
	}
	p.Stop(time.Second)
	if got := Leftovers(dir); len(got) != 0 {
		t.Errorf("stopped: Leftovers = %v", got)
	}
}

// A changed HelmRelease counts as applied once helm-controller released
// its chart version, a GitRepository once source-controller fetched its
// tag.
func TestSourceApplied(t *testing.T) {
	hr := func(spec, released string) map[string]any {
		o := map[string]any{"kind": "HelmRelease", "spec": map[string]any{"chart": map[string]any{"spec": map[string]any{"version": spec}}}}
		if released != "" {
			o["status"] = map[string]any{"history": []any{map[string]any{"chartVersion": released}, map[string]any{"chartVersion": "0.1.0"}}}
		}
		return o
	}
	git := func(tag, rev string) map[string]any {
		return map[string]any{"kind": "GitRepository", "spec": map[string]any{"ref": map[string]any{"tag": tag}},
			"status": map[string]any{"artifact": map[string]any{"revision": rev}}}
	}
	for _, tc := range []struct {
		name string
		obj  map[string]any
		ok   bool
	}{
		{"released", hr("1.26.8", "1.26.8"), true},
		{"older release", hr("1.26.8", "1.20.8"), false},
		{"no release", hr("1.26.8", ""), false},
		{"tag fetched", git("2.3.0", "2.3.0@sha1:0123"), true},
		{"old tag", git("2.3.0", "1.8.5@sha1:0123"), false},
		{"other kind", map[string]any{"kind": "Namespace"}, true},
	} {
		if msg := sourceApplied(tc.obj); (msg == "") != tc.ok {
			t.Errorf("%s: %q", tc.name, msg)
		}
	}
}
