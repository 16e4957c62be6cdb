package charts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/chartrepo"
)

func TestDefaultCacheDir(t *testing.T) {
	tests := []struct {
		name, env, xdg, want string
	}{
		{name: "env", env: "/tmp/katonic-cache", xdg: "/xdg", want: "/tmp/katonic-cache"},
		{name: "user cache dir", env: "", xdg: "/xdg", want: "/xdg/katonic/charts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(CacheDirEnv, tt.env)
			t.Setenv("XDG_CACHE_HOME", tt.xdg) // os.UserCacheDir on Linux
			got, err := DefaultCacheDir()
			if err != nil {
				t.Fatal(err)
			}
			if filepath.ToSlash(got) != tt.want {
				t.Fatalf("DefaultCacheDir() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCache(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, filepath.Join(src, "alpha"), simpleChart("alpha", "1.0.0", "hi"))
	data, err := chartrepo.Package(filepath.Join(src, "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	ref := Ref{"https://example.test/charts", "alpha", "1.0.0"}

	tests := []struct {
		name    string
		entry   func(d string) Entry
		damage  func(t *testing.T, path string)
		wantErr func(t *testing.T, err error)
	}{
		{
			name:  "load",
			entry: func(d string) Entry { return Entry{ref, d} },
		},
		{
			name:  "not cached",
			entry: func(string) Entry { return Entry{ref, digestA} },
			wantErr: func(t *testing.T, err error) {
				if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "katonic charts pull") {
					t.Fatalf("error = %v, want ErrNotCached", err)
				}
			},
		},
		{
			name:  "tampered",
			entry: func(d string) Entry { return Entry{ref, d} },
			damage: func(t *testing.T, path string) {
				if err := os.WriteFile(path, append([]byte("x"), data...), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: func(t *testing.T, err error) {
				var de *DigestError
				if !errors.As(err, &de) || de.Where != WhereCache || de.Ref != ref {
					t.Fatalf("error = %v, want *DigestError in cache", err)
				}
				if !strings.Contains(err.Error(), "cached file was modified") {
					t.Fatalf("error = %v", err)
				}
			},
		},
		{
			name:  "wrong version",
			entry: func(d string) Entry { return Entry{Ref{ref.Repository, "alpha", "2.0.0"}, d} },
			wantErr: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "holds chart alpha version 1.0.0, not alpha version 2.0.0") {
					t.Fatalf("error = %v", err)
				}
			},
		},
		{
			name:  "bad digest",
			entry: func(string) Entry { return Entry{ref, "md5:abc"} },
			wantErr: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), `digest "md5:abc"`) {
					t.Fatalf("error = %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Cache{Dir: filepath.Join(t.TempDir(), "cache")}
			d, err := c.Put(data)
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.Path(d)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(c.Dir, "sha256", strings.TrimPrefix(d, "sha256:")+".tgz"); p != want {
				t.Fatalf("Path = %s, want %s", p, want)
			}
			if tt.damage != nil {
				tt.damage(t, p)
			}
			ch, err := c.Load(tt.entry(d))
			if tt.wantErr != nil {
				tt.wantErr(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ch.Name() != "alpha" || ch.Metadata.Version != "1.0.0" {
				t.Fatalf("loaded %s %s", ch.Name(), ch.Metadata.Version)
			}
		})
	}
}

func TestCachePutRepairs(t *testing.T) {
	c := Cache{Dir: t.TempDir()}
	d, err := c.Put([]byte("chart bytes"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Path(d)
	if err := os.WriteFile(p, []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d2, err := c.Put([]byte("chart bytes")); err != nil || d2 != d {
		t.Fatalf("Put again = %s, %v", d2, err)
	}
	if got, _ := os.ReadFile(p); string(got) != "chart bytes" {
		t.Fatalf("cached file = %q", got)
	}
}
