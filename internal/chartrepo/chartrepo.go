// Package chartrepo runs loopback chart servers for tests: a Helm HTTP chart
// repository and an OCI registry, both serving charts packaged from source
// directories with Helm's own code. It is imported by _test.go files only,
// never by the product binary.
package chartrepo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/opencontainers/go-digest"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"
)

// Package packages the chart source directory dir (Chart.yaml, values.yaml,
// templates/, optional values.schema.json, charts/ ...) into .tgz bytes, as
// `helm package` does: Helm's loader.LoadDir, then chartutil.Save (which
// also validates the chart). The bytes are not reproducible across seconds:
// Helm stamps each tar entry with the current time.
func Package(dir string) ([]byte, error) {
	_, data, err := packageChart(dir)
	return data, err
}

func packageChart(dir string) (*chart.Chart, []byte, error) {
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("package chart %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp("", "chartrepo-package-")
	if err != nil {
		return nil, nil, fmt.Errorf("package chart %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	file, err := chartutil.Save(ch, tmp)
	if err != nil {
		return nil, nil, fmt.Errorf("package chart %s: %w", dir, err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("package chart %s: %w", dir, err)
	}
	return ch, data, nil
}

// packaged is one chart of a Server.
type packaged struct {
	meta   *chart.Metadata
	data   []byte
	source string // fingerprint of the source directory
}

// packageAll packages every subdirectory of dir that has a Chart.yaml, in
// name order. A chart whose source files are byte for byte those it was
// packaged from before (prev, by subdirectory name) keeps its previous
// archive: chartutil.Save stamps tar entries with the current time, and a
// real repository does not republish charts that did not change.
func packageAll(dir string, prev map[string]packaged) (map[string]packaged, []string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("chart directory: %w", err)
	}
	out := map[string]packaged{}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		if _, err := os.Stat(filepath.Join(sub, chartutil.ChartfileName)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, nil, fmt.Errorf("chart directory: %w", err)
		}
		fp, err := fingerprint(sub)
		if err != nil {
			return nil, nil, fmt.Errorf("chart directory %s: %w", sub, err)
		}
		p, ok := prev[e.Name()]
		if !ok || p.source != fp {
			ch, data, err := packageChart(sub)
			if err != nil {
				return nil, nil, err
			}
			p = packaged{meta: ch.Metadata, data: data, source: fp}
		}
		out[e.Name()] = p
		names = append(names, e.Name())
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("chart directory %s has no subdirectory with a %s", dir, chartutil.ChartfileName)
	}
	return out, names, nil
}

// fingerprint hashes the names and contents of the regular files under dir.
func fingerprint(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(data))
		h.Write(data)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// Server is a loopback chart server started by NewHelmRepo or
// NewOCIRegistry. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL: http://127.0.0.1:port for a Helm repository,
	// oci://127.0.0.1:port/charts for an OCI registry.
	URL string

	dir    string
	srv    *httptest.Server
	reload func() error

	mu     sync.Mutex
	charts map[string]packaged // by subdirectory name
	files  map[string][]byte   // Helm repository: path (without "/") → body

	tmp string // OCI: private Helm config directory
	rc  *helmregistry.Client
}

// Close shuts the server down and removes its temporary files.
func (s *Server) Close() {
	s.srv.Close()
	if s.tmp != "" {
		_ = os.RemoveAll(s.tmp)
	}
}

// Reload packages the chart directories again and serves the new bytes
// (Helm repository: a new index.yaml and archives; OCI: pushes the charts
// again, moving their tags), so that a test can edit a chart and see its
// digest change. A chart whose source files did not change keeps its
// previous archive, and so its digest; charts added to or removed from the
// directory appear or disappear (OCI: removed charts stay in the registry).
func (s *Server) Reload() error { return s.reload() }

// NewHelmRepo packages every chart directory directly under dir (each
// subdirectory with a Chart.yaml) and serves them as a Helm HTTP chart
// repository (https://helm.sh/docs/topics/chart_repository/) on a loopback
// httptest server: GET /index.yaml, made with Helm's repo.NewIndexFile and
// IndexFile.MustAdd with absolute URLs and sha256 digests, and GET
// /<name>-<version>.tgz. Anything else is 404. Errors: dir unreadable, no
// chart in it, a chart Helm cannot load or package.
func NewHelmRepo(dir string) (*Server, error) {
	s := &Server{dir: dir}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveRepo))
	s.URL = s.srv.URL
	s.reload = s.reloadRepo
	if err := s.reload(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// NewStaticRepo serves dir, a directory of packaged charts with its own
// index.yaml (as `helm repo index` writes it, with relative URLs), as-is as
// a Helm HTTP chart repository on a loopback httptest server: every file
// under dir is served by net/http's file server. Reload is a no-op: the
// files are read on every request. Errors: dir has no index.yaml.
func NewStaticRepo(dir string) (*Server, error) {
	if _, err := os.Stat(filepath.Join(dir, "index.yaml")); err != nil {
		return nil, fmt.Errorf("chart repository %s: %w", dir, err)
	}
	s := &Server{dir: dir, reload: func() error { return nil }}
	s.srv = httptest.NewServer(http.FileServer(http.Dir(dir)))
	s.URL = s.srv.URL
	return s, nil
}

func (s *Server) reloadRepo() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	charts, names, err := packageAll(s.dir, s.charts)
	if err != nil {
		return err
	}
	idx := repo.NewIndexFile()
	files := map[string][]byte{}
	for _, n := range names {
		c := charts[n]
		name := fmt.Sprintf("%s-%s.tgz", c.meta.Name, c.meta.Version)
		if err := idx.MustAdd(c.meta, name, s.URL, digest.SHA256.FromBytes(c.data).Encoded()); err != nil {
			return fmt.Errorf("index chart %s: %w", name, err)
		}
		files[name] = c.data
	}
	idx.SortEntries()
	index, err := yaml.Marshal(idx)
	if err != nil {
		return fmt.Errorf("index.yaml: %w", err)
	}
	files["index.yaml"] = index
	s.charts, s.files = charts, files
	return nil
}

func (s *Server) serveRepo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	body, ok := s.files[strings.TrimPrefix(r.URL.Path, "/")]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if strings.HasSuffix(r.URL.Path, ".tgz") {
		w.Header().Set("Content-Type", "application/gzip")
	} else {
		w.Header().Set("Content-Type", "application/x-yaml")
	}
	_, _ = w.Write(body)
}

// NewOCIRegistry starts a loopback OCI registry (go-containerregistry's
// pkg/registry on an httptest server, logging discarded) and pushes every
// chart directory under dir to oci://127.0.0.1:port/charts/<name>:<version>
// with Helm's registry client over plain HTTP (as `helm push --plain-http`
// does, https://helm.sh/docs/topics/registries/). URL is
// "oci://127.0.0.1:port/charts". The registry client's credentials file is
// in a private temporary directory removed by Close.
func NewOCIRegistry(dir string) (*Server, error) {
	s := &Server{dir: dir}
	s.srv = httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	host := strings.TrimPrefix(s.srv.URL, "http://")
	s.URL = helmregistry.OCIScheme + "://" + host + "/charts"
	s.reload = s.push
	tmp, err := os.MkdirTemp("", "chartrepo-oci-")
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("OCI registry: %w", err)
	}
	s.tmp = tmp
	s.rc, err = helmregistry.NewClient(
		helmregistry.ClientOptPlainHTTP(),
		helmregistry.ClientOptWriter(io.Discard),
		helmregistry.ClientOptCredentialsFile(filepath.Join(tmp, "registry", "config.json")),
	)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("OCI registry: helm registry client: %w", err)
	}
	if err := s.reload(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// push pushes every chart as host/charts/<name>:<version>.
func (s *Server) push() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	charts, names, err := packageAll(s.dir, s.charts)
	if err != nil {
		return err
	}
	base := strings.TrimPrefix(s.URL, helmregistry.OCIScheme+"://")
	for _, n := range names {
		c := charts[n]
		ref := path.Join(base, c.meta.Name) + ":" + c.meta.Version
		if _, err := s.rc.Push(c.data, ref); err != nil {
			return fmt.Errorf("push chart %s to %s: %w", c.meta.Name, ref, err)
		}
	}
	s.charts = charts
	return nil
}
