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
)

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
