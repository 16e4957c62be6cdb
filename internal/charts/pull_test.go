package charts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/chartrepo"
)

// isolateHelm points every place Helm or Docker could read or write user
// state at fresh directories and, at the end of the test, checks that none
// of them was created.
func isolateHelm(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	dirs := map[string]string{
		"HELM_CONFIG_HOME": filepath.Join(home, "helm-config"),
		"HELM_CACHE_HOME":  filepath.Join(home, "helm-cache"),
		"HELM_DATA_HOME":   filepath.Join(home, "helm-data"),
		"DOCKER_CONFIG":    filepath.Join(home, "docker"),
	}
	for k, v := range dirs {
		t.Setenv(k, v)
	}
	t.Cleanup(func() {
		for k, v := range dirs {
			if _, err := os.Stat(v); err == nil {
				t.Errorf("%s (%s) was created", k, v)
			}
		}
	})
}

func TestPull(t *testing.T) {
	tests := []struct {
		name  string
		start func(dir string) (*chartrepo.Server, error)
		ref   func(base, chart, version string) Ref
		plain bool
	}{
		{
			name:  "helm repository",
			start: chartrepo.NewHelmRepo,
			ref:   func(base, chart, version string) Ref { return Ref{base, chart, version} },
		},
		{
			name:  "oci registry",
			start: chartrepo.NewOCIRegistry,
			ref:   func(base, chart, version string) Ref { return Ref{base + "/" + chart, chart, version} },
			plain: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateHelm(t)
			src := t.TempDir()
			writeFiles(t, filepath.Join(src, "alpha"), simpleChart("alpha", "1.0.0", "one"))
			writeFiles(t, filepath.Join(src, "beta"), simpleChart("beta", "0.1.0", "two"))
			s, err := tt.start(src)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			alpha := tt.ref(s.URL, "alpha", "1.0.0")
			beta := tt.ref(s.URL, "beta", "0.1.0")
			refs := []Ref{beta, alpha, beta} // unsorted, with a duplicate
			cache := Cache{Dir: filepath.Join(t.TempDir(), "cache")}
			lockPath := filepath.Join(t.TempDir(), LockFile)

			pull := func(lock *Lock, update bool, refs []Ref) ([]PullResult, string, error) {
				t.Helper()
				var progress bytes.Buffer
				res, err := Pull(context.Background(), refs, PullOptions{
					Cache: cache, Lock: lock, Update: update, PlainHTTP: tt.plain, Progress: &progress,
				})
				return res, progress.String(), err
			}
			statuses := func(res []PullResult) string {
				var parts []string
				for _, r := range res {
					parts = append(parts, r.Entry.Chart+"="+r.Status)
				}
				return strings.Join(parts, " ")
			}

			// First pull: everything added, sorted, once.
			lock := &Lock{}
			res, progress, err := pull(lock, false, refs)
			if err != nil {
				t.Fatal(err)
			}
			if got := statuses(res); got != "alpha=added beta=added" {
				t.Fatalf("first pull: %s", got)
			}
			if lines := strings.Count(progress, "\n"); lines != 2 || !strings.HasPrefix(progress, "added     "+alpha.String()+" sha256:") {
				t.Fatalf("progress:\n%s", progress)
			}
			for _, r := range res {
				if e, ok := lock.Lookup(r.Entry.Ref); !ok || e != r.Entry {
					t.Fatalf("lock entry for %s = %v, %v", r.Entry.Ref, e, ok)
				}
				if _, err := cache.Load(r.Entry); err != nil {
					t.Fatal(err)
				}
			}
			alphaV1, _ := lock.Lookup(alpha)
			if err := lock.Write(lockPath); err != nil {
				t.Fatal(err)
			}
			written, _ := os.ReadFile(lockPath)

			// Second pull against the lock read back: unchanged, same file.
			lock, err = ReadLock(lockPath)
			if err != nil {
				t.Fatal(err)
			}
			res, _, err = pull(lock, false, refs)
			if err != nil {
				t.Fatal(err)
			}
			if got := statuses(res); got != "alpha=unchanged beta=unchanged" {
				t.Fatalf("second pull: %s", got)
			}
			if err := lock.Write(lockPath); err != nil {
				t.Fatal(err)
			}
			if again, _ := os.ReadFile(lockPath); !bytes.Equal(again, written) {
				t.Fatalf("lock file changed:\n%s\nwas:\n%s", again, written)
			}

			// The chart changes upstream: refused, the other chart still pulled.
			writeFiles(t, filepath.Join(src, "alpha"), simpleChart("alpha", "1.0.0", "changed"))
			if err := s.Reload(); err != nil {
				t.Fatal(err)
			}
			res, progress, err = pull(lock, false, refs)
			var de *DigestError
			if !errors.As(err, &de) || de.Where != WhereUpstream || de.Ref != alpha || de.Locked != alphaV1.Digest || de.Got == de.Locked {
				t.Fatalf("pull after upstream change: error %v, want *DigestError upstream for alpha", err)
			}
			if !strings.Contains(err.Error(), "the chart changed upstream since it was locked; review it and run `katonic charts pull --update` to accept it") {
				t.Fatalf("error = %v", err)
			}
			if got := statuses(res); got != "beta=unchanged" {
				t.Fatalf("pull after upstream change: %s", got)
			}
			if !strings.HasPrefix(progress, "failed    "+alpha.String()+"\n") {
				t.Fatalf("progress:\n%s", progress)
			}
			if e, _ := lock.Lookup(alpha); e != alphaV1 {
				t.Fatalf("lock changed without --update: %v", e)
			}

			// With Update the new digest is accepted.
			res, _, err = pull(lock, true, refs)
			if err != nil {
				t.Fatal(err)
			}
			if got := statuses(res); got != "alpha=updated beta=unchanged" {
				t.Fatalf("pull --update: %s", got)
			}
			alphaV2, _ := lock.Lookup(alpha)
			if alphaV2.Digest != de.Got {
				t.Fatalf("locked %s, want %s", alphaV2.Digest, de.Got)
			}
			ch, err := cache.Load(alphaV2)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(ch.Values["note"].(string)), "changed") {
				t.Fatalf("cached chart has note %v", ch.Values["note"])
			}

			// A missing chart fails; the others are still pulled.
			missing := tt.ref(s.URL, "gamma", "9.9.9")
			res, _, err = pull(lock, false, append(refs, missing))
			if err == nil || !strings.Contains(err.Error(), "pull chart "+missing.String()) {
				t.Fatalf("missing chart: error %v", err)
			}
			if got := statuses(res); got != "alpha=unchanged beta=unchanged" {
				t.Fatalf("missing chart: %s", got)
			}
			if _, ok := lock.Lookup(missing); ok {
				t.Fatal("missing chart locked")
			}
		})
	}
}

func TestPullErrors(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, filepath.Join(src, "alpha"), simpleChart("alpha", "1.0.0", "one"))
	writeFiles(t, filepath.Join(src, "beta"), simpleChart("beta", "1.0.0", "two"))
	alpha, err := chartrepo.Package(filepath.Join(src, "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	beta, err := chartrepo.Package(filepath.Join(src, "beta"))
	if err != nil {
		t.Fatal(err)
	}
	// A hand-written repository whose index lies: a wrong digest for alpha,
	// and "beta" served from alpha's archive.
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/index.yaml":
			fmt.Fprintf(w, `apiVersion: v1
entries:
  alpha:
  - apiVersion: v2
    name: alpha
    version: 1.0.0
    digest: "%s"
    urls: [%s/alpha-1.0.0.tgz]
  beta:
  - apiVersion: v2
    name: beta
    version: 1.0.0
    urls: [alpha-1.0.0.tgz]
  - apiVersion: v2
    name: beta
    version: 1.2.0
    urls: [beta-1.0.0.tgz]
`, strings.Repeat("0", 64), srv.URL)
		case "/alpha-1.0.0.tgz":
			_, _ = w.Write(alpha)
		case "/beta-1.0.0.tgz":
			_, _ = w.Write(beta)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name    string
		ref     Ref
		ctx     func() context.Context
		wantErr string
	}{
		{name: "index digest mismatch", ref: Ref{srv.URL, "alpha", "1.0.0"}, wantErr: "but the repository index says sha256:0000"},
		{name: "archive is another chart", ref: Ref{srv.URL, "beta", "1.0.0"}, wantErr: "archive holds chart alpha version 1.0.0, not beta version 1.0.0"},
		{name: "range is not a version", ref: Ref{srv.URL, "beta", "1.x"}, wantErr: `chart "beta" version "1.x" not found in the index`},
		{name: "unknown chart", ref: Ref{srv.URL, "gamma", "1.0.0"}, wantErr: `chart "gamma" version "1.0.0" not found`},
		{name: "unreachable repository", ref: Ref{closed.URL, "alpha", "1.0.0"}, wantErr: "chart repository " + closed.URL + ": download index.yaml"},
		{name: "bad scheme", ref: Ref{"ftp://host/charts", "alpha", "1.0.0"}, wantErr: "scheme must be http, https or oci"},
		{name: "oci url not ending in chart", ref: Ref{"oci://127.0.0.1:1/charts/other", "alpha", "1.0.0"}, wantErr: `ends in "other", not in the chart name "alpha"`},
		{name: "cancelled", ref: Ref{srv.URL, "alpha", "1.0.0"}, ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, wantErr: "pull charts: stopped before " + srv.URL + " alpha 1.0.0: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			lock := &Lock{}
			res, err := Pull(ctx, []Ref{tt.ref}, PullOptions{Cache: Cache{Dir: t.TempDir()}, Lock: lock})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want containing %q", err, tt.wantErr)
			}
			if len(res) != 0 || len(lock.Charts) != 0 {
				t.Fatalf("results %v, lock %v", res, lock.Charts)
			}
		})
	}
}

func TestPullOptionErrors(t *testing.T) {
	tests := []struct {
		name    string
		opts    PullOptions
		wantErr string
	}{
		{name: "no lock", opts: PullOptions{Cache: Cache{Dir: "x"}}, wantErr: "no lock"},
		{name: "no cache", opts: PullOptions{Lock: &Lock{}}, wantErr: "no cache directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Pull(context.Background(), nil, tt.opts); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}
