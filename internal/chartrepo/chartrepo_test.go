package chartrepo

import (
	"bytes"
	_ "crypto/sha256"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"helm.sh/helm/v3/pkg/chart/loader"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"
)

// writeChart writes a minimal chart source directory dir/name.
func writeChart(t *testing.T, dir, name, version, configMapData string) {
	t.Helper()
	files := map[string]string{
		"Chart.yaml":               "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n",
		"values.yaml":              "greeting: hello\n",
		"templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting }}\n  extra: " + configMapData + "\n",
	}
	for p, body := range files {
		full := filepath.Join(dir, name, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPackage(t *testing.T) {
	dir := t.TempDir()
	writeChart(t, dir, "alpha", "1.2.3", "x")
	tests := []struct {
		name    string
		dir     string
		wantErr string
	}{
		{name: "chart", dir: filepath.Join(dir, "alpha")},
		{name: "missing", dir: filepath.Join(dir, "nope"), wantErr: "package chart"},
		{name: "not a chart", dir: dir, wantErr: "Chart.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := Package(tt.dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Package error = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ch, err := loader.LoadArchive(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if ch.Name() != "alpha" || ch.Metadata.Version != "1.2.3" || len(ch.Templates) != 1 {
				t.Fatalf("packaged chart = %s %s with %d templates", ch.Name(), ch.Metadata.Version, len(ch.Templates))
			}
		})
	}
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestHelmRepo(t *testing.T) {
	dir := t.TempDir()
	writeChart(t, dir, "alpha", "1.0.0", "one")
	writeChart(t, dir, "beta", "0.1.0", "two")
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not a chart"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := NewHelmRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("URL = %q", s.URL)
	}

	index := func() *repo.IndexFile {
		t.Helper()
		code, body := get(t, s.URL+"/index.yaml")
		if code != http.StatusOK {
			t.Fatalf("GET /index.yaml: %d", code)
		}
		var idx repo.IndexFile
		if err := yaml.Unmarshal(body, &idx); err != nil {
			t.Fatal(err)
		}
		return &idx
	}
	check := func(idx *repo.IndexFile, name, version string) string {
		t.Helper()
		cv, err := idx.Get(name, version)
		if err != nil {
			t.Fatalf("index: %v", err)
		}
		wantURL := s.URL + "/" + name + "-" + version + ".tgz"
		if len(cv.URLs) != 1 || cv.URLs[0] != wantURL {
			t.Fatalf("urls = %v, want [%s]", cv.URLs, wantURL)
		}
		code, data := get(t, wantURL)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d", wantURL, code)
		}
		if got := digest.SHA256.FromBytes(data).Encoded(); got != cv.Digest {
			t.Fatalf("digest of %s = %s, index says %s", wantURL, got, cv.Digest)
		}
		return cv.Digest
	}
	idx := index()
	before := check(idx, "alpha", "1.0.0")
	check(idx, "beta", "0.1.0")
	if code, _ := get(t, s.URL+"/gamma-1.0.0.tgz"); code != http.StatusNotFound {
		t.Fatalf("unknown chart: %d, want 404", code)
	}

	writeChart(t, dir, "alpha", "1.0.0", "changed")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if after := check(index(), "alpha", "1.0.0"); after == before {
		t.Fatal("digest did not change after editing the chart and reloading")
	}
}

func TestNewHelmRepoErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(dir string)
		wantErr string
	}{
		{name: "empty", setup: func(string) {}, wantErr: "no subdirectory with a Chart.yaml"},
		{name: "bad chart", setup: func(dir string) {
			_ = os.MkdirAll(filepath.Join(dir, "bad"), 0o755)
			_ = os.WriteFile(filepath.Join(dir, "bad", "Chart.yaml"), []byte("apiVersion: v2\nname: bad\n"), 0o644)
		}, wantErr: "package chart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(dir)
			s, err := NewHelmRepo(dir)
			if err == nil {
				s.Close()
				t.Fatal("NewHelmRepo succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestOCIRegistry(t *testing.T) {
	dir := t.TempDir()
	writeChart(t, dir, "alpha", "1.0.0", "one")
	s, err := NewOCIRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL, "oci://127.0.0.1:") || !strings.HasSuffix(s.URL, "/charts") {
		t.Fatalf("URL = %q", s.URL)
	}
	rc, err := helmregistry.NewClient(helmregistry.ClientOptPlainHTTP(),
		helmregistry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")))
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimPrefix(s.URL, "oci://") + "/alpha:1.0.0"
	pull := func() []byte {
		t.Helper()
		res, err := rc.Pull(ref)
		if err != nil {
			t.Fatalf("pull %s: %v", ref, err)
		}
		ch, err := loader.LoadArchive(bytes.NewReader(res.Chart.Data))
		if err != nil {
			t.Fatal(err)
		}
		if ch.Name() != "alpha" || ch.Metadata.Version != "1.0.0" {
			t.Fatalf("pulled %s %s", ch.Name(), ch.Metadata.Version)
		}
		return res.Chart.Data
	}
	before := pull()
	tags, err := rc.Tags(ref[:strings.LastIndex(ref, ":")])
	if err != nil || len(tags) != 1 || tags[0] != "1.0.0" {
		t.Fatalf("tags = %v, %v", tags, err)
	}

	writeChart(t, dir, "alpha", "1.0.0", "changed")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if after := pull(); bytes.Equal(after, before) {
		t.Fatal("pulled the same bytes after editing the chart and reloading")
	}
}

func TestReloadKeepsUnchangedCharts(t *testing.T) {
	tests := []struct {
		name  string
		start func(string) (*Server, error)
		fetch func(t *testing.T, s *Server) []byte
	}{
		{name: "helm repository", start: NewHelmRepo, fetch: func(t *testing.T, s *Server) []byte {
			_, data := get(t, s.URL+"/alpha-1.0.0.tgz")
			return data
		}},
		{name: "oci registry", start: NewOCIRegistry, fetch: func(t *testing.T, s *Server) []byte {
			rc, err := helmregistry.NewClient(helmregistry.ClientOptPlainHTTP(),
				helmregistry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")))
			if err != nil {
				t.Fatal(err)
			}
			res, err := rc.Pull(strings.TrimPrefix(s.URL, "oci://") + "/alpha:1.0.0")
			if err != nil {
				t.Fatal(err)
			}
			return res.Chart.Data
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeChart(t, dir, "alpha", "1.0.0", "one")
			s, err := tt.start(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			before := tt.fetch(t, s)
			// Rewriting identical content must not change the archive, even
			// though Helm stamps tar entries with the packaging time.
			writeChart(t, dir, "alpha", "1.0.0", "one")
			if err := s.Reload(); err != nil {
				t.Fatal(err)
			}
			if after := tt.fetch(t, s); !bytes.Equal(after, before) {
				t.Fatal("an unchanged chart was republished with other bytes")
			}
		})
	}
}
