package charts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	digestA = "sha256:" + strings.Repeat("a", 64)
	digestB = "sha256:" + strings.Repeat("b", 64)
	digestC = "sha256:" + strings.Repeat("c", 64)
)

func TestRef(t *testing.T) {
	tests := []struct {
		ref    Ref
		oci    bool
		String string
	}{
		{Ref{"oci://host/charts/postgresql", "postgresql", "16.7.0"}, true, "oci://host/charts/postgresql:16.7.0"},
		{Ref{"https://charts.min.io/", "minio", "5.4.0"}, false, "https://charts.min.io/ minio 5.4.0"},
		{Ref{"http://127.0.0.1:8080", "a", "0.1.0"}, false, "http://127.0.0.1:8080 a 0.1.0"},
	}
	for _, tt := range tests {
		if got := tt.ref.IsOCI(); got != tt.oci {
			t.Errorf("%#v.IsOCI() = %v", tt.ref, got)
		}
		if got := tt.ref.String(); got != tt.String {
			t.Errorf("%#v.String() = %q, want %q", tt.ref, got, tt.String)
		}
	}
}

func TestLockWriteRead(t *testing.T) {
	const golden = `# Written by katonic charts pull. DO NOT EDIT.
charts:
  - repository: https://charts.min.io/
    chart: minio
    version: 5.4.0
    digest: sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
  - repository: oci://registry-1.docker.io/bitnamicharts/postgresql
    chart: postgresql
    version: 16.7.0
    digest: sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
  - repository: oci://registry-1.docker.io/bitnamicharts/postgresql
    chart: postgresql
    version: 16.7.1
    digest: sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
`
	tests := []struct {
		name string
		lock Lock
		want string
	}{
		{name: "empty", lock: Lock{}, want: "# Written by katonic charts pull. DO NOT EDIT.\ncharts: []\n"},
		{name: "sorted", lock: Lock{Charts: []Entry{
			{Ref{"oci://registry-1.docker.io/bitnamicharts/postgresql", "postgresql", "16.7.1"}, digestC},
			{Ref{"https://charts.min.io/", "minio", "5.4.0"}, digestB},
			{Ref{"oci://registry-1.docker.io/bitnamicharts/postgresql", "postgresql", "16.7.0"}, digestA},
		}}, want: golden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), LockFile)
			orig := append([]Entry(nil), tt.lock.Charts...)
			if err := tt.lock.Write(path); err != nil {
				t.Fatal(err)
			}
			for i := range orig {
				if tt.lock.Charts[i] != orig[i] {
					t.Fatal("Write reordered the lock")
				}
			}
			first, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(first) != tt.want {
				t.Fatalf("lock file:\n%s\nwant:\n%s", first, tt.want)
			}
			read, err := ReadLock(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(read.Charts) != len(tt.lock.Charts) {
				t.Fatalf("read %d entries, wrote %d", len(read.Charts), len(tt.lock.Charts))
			}
			if err := read.Write(path); err != nil {
				t.Fatal(err)
			}
			second, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(second) != string(first) {
				t.Fatalf("rewritten lock differs:\n%s\nfirst:\n%s", second, first)
			}
			leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*"))
			if len(leftovers) != 0 {
				t.Fatalf("temporary files left: %v", leftovers)
			}
		})
	}
}

func TestReadLock(t *testing.T) {
	const header = "# Written by katonic charts pull. DO NOT EDIT.\n"
	entry := func(repo, chart, version, digest string) string {
		return "  - repository: " + repo + "\n    chart: " + chart + "\n    version: " + version + "\n    digest: " + digest + "\n"
	}
	tests := []struct {
		name    string
		content *string // nil: no file
		want    int
		wantErr string
	}{
		{name: "missing file", content: nil, want: 0},
		{name: "empty file", content: ptr(""), want: 0},
		{name: "one entry", content: ptr(header + "charts:\n" + entry("https://r/", "a", "1.0.0", digestA)), want: 1},
		{name: "not yaml", content: ptr("charts: [\n"), wantErr: "is malformed"},
		{name: "unknown field", content: ptr("charts: []\nextra: 1\n"), wantErr: "field extra not found"},
		{name: "bad digest", content: ptr("charts:\n" + entry("https://r/", "a", "1.0.0", "sha256:xyz")), wantErr: `entry 1 (https://r/ a 1.0.0): digest "sha256:xyz"`},
		{name: "other algorithm", content: ptr("charts:\n" + entry("https://r/", "a", "1.0.0", "sha512:"+strings.Repeat("a", 128))), wantErr: "not sha256"},
		{name: "empty chart", content: ptr("charts:\n" + entry("https://r/", `""`, "1.0.0", digestA)), wantErr: "entry 1 (https://r/): chart is empty"},
		{name: "duplicate", content: ptr("charts:\n" + entry("https://r/", "a", "1.0.0", digestA) + entry("https://r/", "a", "1.0.0", digestB)), wantErr: "entry 2 (https://r/ a 1.0.0) repeats entry 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), LockFile)
			if tt.content != nil {
				if err := os.WriteFile(path, []byte(*tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			l, err := ReadLock(path)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatal("ReadLock succeeded")
				}
				if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want naming %s and containing %q", err, path, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Charts) != tt.want {
				t.Fatalf("got %d entries, want %d", len(l.Charts), tt.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestReadLockUnreadable(t *testing.T) {
	dir := t.TempDir() // a directory is not a readable file
	if _, err := ReadLock(dir); err == nil || errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadLock(dir) error = %v", err)
	}
}

func TestLockSetLookupRetain(t *testing.T) {
	a := Ref{"https://r/", "a", "1.0.0"}
	b := Ref{"https://r/", "b", "1.0.0"}
	c := Ref{"oci://h/c", "c", "2.0.0"}
	tests := []struct {
		name        string
		set         []Entry
		retain      []Ref
		wantRemoved []Ref
		want        map[Ref]string
	}{
		{
			name: "add and replace",
			set:  []Entry{{a, digestA}, {b, digestB}, {a, digestC}},
			want: map[Ref]string{a: digestC, b: digestB},
		},
		{
			name:        "retain drops unused, sorted",
			set:         []Entry{{c, digestC}, {b, digestB}, {a, digestA}},
			retain:      []Ref{b},
			wantRemoved: []Ref{a, c},
			want:        map[Ref]string{b: digestB},
		},
		{
			name:   "retain all",
			set:    []Entry{{a, digestA}},
			retain: []Ref{a, b},
			want:   map[Ref]string{a: digestA},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Lock
			for _, e := range tt.set {
				l.Set(e)
			}
			if tt.retain != nil {
				removed := l.Retain(tt.retain)
				if len(removed) != len(tt.wantRemoved) {
					t.Fatalf("removed %v, want %v", removed, tt.wantRemoved)
				}
				for i := range removed {
					if removed[i].Ref != tt.wantRemoved[i] {
						t.Fatalf("removed %v, want %v", removed, tt.wantRemoved)
					}
				}
			}
			if len(l.Charts) != len(tt.want) {
				t.Fatalf("lock has %d entries, want %d", len(l.Charts), len(tt.want))
			}
			for _, r := range []Ref{a, b, c} {
				e, ok := l.Lookup(r)
				want, wantOK := tt.want[r]
				if ok != wantOK || e.Digest != want || (ok && e.Ref != r) {
					t.Errorf("Lookup(%s) = %v, %v; want %s, %v", r, e, ok, want, wantOK)
				}
			}
		})
	}
}
