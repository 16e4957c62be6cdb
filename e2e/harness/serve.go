package harness

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"helm.sh/helm/v3/pkg/chart/loader"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
)

// Server is an HTTP server on a loopback port, stopped by Close.
type Server struct {
	URL string
	srv *http.Server
}

// Close stops the server.
func (s *Server) Close() { _ = s.srv.Close() }

func serve(h http.Handler) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + l.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

// ServeGit serves the git repositories under root (each a directory
// <name>.git) over git's smart HTTP protocol, with git's own
// git-http-backend as a CGI program: a repository is cloned from
// <URL>/<name>.git, as source-controller clones any https remote.
func ServeGit(root string) (*Server, error) {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("git --exec-path: %w", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		return nil, fmt.Errorf("git's http backend: %w", err)
	}
	return serve(&cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}})
}

// Git runs git with args in dir, with a fixed identity and no user or
// system configuration, and returns its error with its output.
func Git(dir string, args ...string) error {
	_, err := GitOutput(dir, args...)
	return err
}

// GitOutput is Git returning git's standard output, trimmed of white
// space (a commit id for `rev-parse HEAD`).
func GitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir, "GIT_AUTHOR_NAME=katonic-e2e",
		"GIT_AUTHOR_EMAIL=e2e@katonic.invalid", "GIT_COMMITTER_NAME=katonic-e2e", "GIT_COMMITTER_EMAIL=e2e@katonic.invalid")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Publish commits everything under work as branch main (a new repository
// when work has none, tagged with tags) and pushes it to the bare
// repository root/<name>.git, which ServeGit serves.
func Publish(work, root, name string, tags ...string) error {
	if _, err := os.Stat(filepath.Join(work, ".git")); err != nil {
		if err := Git(work, "init", "-q", "-b", "main"); err != nil {
			return err
		}
	}
	if err := Git(work, "add", "-A"); err != nil {
		return err
	}
	if err := Git(work, "commit", "-q", "--allow-empty", "-m", "katonic e2e"); err != nil {
		return err
	}
	for _, t := range tags {
		if err := Git(work, "tag", "-f", t); err != nil {
			return err
		}
	}
	bare := filepath.Join(root, name+".git")
	if _, err := os.Stat(bare); err != nil {
		if err := Git(root, "init", "-q", "--bare", bare); err != nil {
			return err
		}
	}
	return Git(work, "push", "-q", "-f", "--tags", bare, "main")
}

// ServeCharts serves dir, a directory of packaged charts (.tgz), as a Helm
// repository: Helm's own index of the directory (repo.IndexDirectory), as
// `helm repo index` writes it.
func ServeCharts(dir string) (*Server, error) {
	idx, err := repo.IndexDirectory(dir, "")
	if err != nil {
		return nil, err
	}
	idx.SortEntries()
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		return nil, err
	}
	return serve(http.FileServer(http.Dir(dir)))
}

// ServeChartsOCI serves the packaged charts (.tgz) of dir from an OCI
// registry (go-containerregistry's pkg/registry) over TLS on a loopback
// port, with the serving certificate of pki (valid for 127.0.0.1, under
// its CA: source-controller trusts that CA through SSL_CERT_FILE, as a
// cluster trusts a private registry's CA). Every chart is pushed with
// Helm's registry client as <host>/charts/<name>:<version>, as `helm push`
// does; URL is "oci://<host>/charts", the environment's charts.mirror.
func ServeChartsOCI(dir string, pki PKI) (*Server, error) {
	cert, err := tls.LoadX509KeyPair(pki.Path(serverCert), pki.Path(serverKey))
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(pki.Path(caCert))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	host := l.Addr().String()
	s := &Server{URL: "oci://" + host + "/charts", srv: &http.Server{
		Handler:           registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}}
	go func() { _ = s.srv.ServeTLS(l, "", "") }()
	rc, err := helmregistry.NewClient(
		helmregistry.ClientOptHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}),
		helmregistry.ClientOptWriter(io.Discard),
		helmregistry.ClientOptCredentialsFile(filepath.Join(filepath.Dir(dir), "registry-config.json")),
	)
	if err != nil {
		s.Close()
		return nil, err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.tgz"))
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			s.Close()
			return nil, err
		}
		ch, err := loader.LoadArchive(bytes.NewReader(data))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		ref := host + "/charts/" + ch.Metadata.Name + ":" + ch.Metadata.Version
		if _, err := rc.Push(data, ref); err != nil {
			s.Close()
			return nil, fmt.Errorf("push %s to %s: %w", filepath.Base(f), ref, err)
		}
	}
	return s, nil
}
