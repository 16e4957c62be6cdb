package outdir

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// inode returns the inode of name, not following a link.
func inode(t *testing.T, name string) uint64 {
	t.Helper()
	fi, err := os.Lstat(name)
	if err != nil {
		t.Fatal(err)
	}
	_, ino, ok := fileID(fi)
	if !ok {
		t.Skip("no inode numbers on this platform")
	}
	return ino
}

// TestSwapCarriesWhatItDoesNotChange: a scoped render through the swap keeps
// every file it does not change as the same file (same inode, so never
// rewritten): files katonic does not own (flux bootstrap's, a user's, with
// their modes), other environments' generated files, unchanged generated
// files, links as links; and it keeps empty directories and directory
// modes.
func TestSwapCarriesWhatItDoesNotChange(t *testing.T) {
	root := filepath.Join(t.TempDir(), "out")
	scope := Scope{"clusters/acme/", "environments/acme/"}
	first := map[string]string{
		"clusters/acme/a.yaml": "a", "clusters/acme/same.yaml": "same", "environments/acme/x/old.yaml": "old",
		"clusters/beta/b.yaml": "b", "environments/beta/e.yaml": "e",
	}
	if _, err := Write(root, bytesMap(first), nil); err != nil {
		t.Fatal(err)
	}
	writeTree(t, root, map[string]string{
		"clusters/acme/flux-system/gotk-sync.yaml": "bootstrap",
		"notes/private.txt":                        "secret",
		"empty/":                                   "",
	})
	must(t, os.Chmod(filepath.Join(root, "notes/private.txt"), 0o600))
	must(t, os.Chmod(filepath.Join(root, "notes"), 0o750))
	must(t, os.Chmod(root, 0o751))
	must(t, os.Symlink("../clusters/beta/b.yaml", filepath.Join(root, "notes", "link")))
	kept := []string{"clusters/acme/flux-system/gotk-sync.yaml", "notes/private.txt", "notes/link", "clusters/beta/b.yaml", "environments/beta/e.yaml", "clusters/acme/same.yaml"}
	inodes := map[string]uint64{}
	for _, p := range kept {
		inodes[p] = inode(t, filepath.Join(root, p))
	}
	before := snapshot(t, root)

	changes, err := Write(root, bytesMap(map[string]string{"clusters/acme/a.yaml": "a2", "clusters/acme/same.yaml": "same", "environments/acme/new.yaml": "n"}), scope)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := changeStrings(changes), []string{"changed clusters/acme/a.yaml", "added environments/acme/new.yaml", "removed environments/acme/x/old.yaml"}; !slices.Equal(got, want) {
		t.Errorf("changes %q, want %q", got, want)
	}
	for _, p := range kept {
		if got := inode(t, filepath.Join(root, p)); got != inodes[p] {
			t.Errorf("%s is a new file (inode %d, was %d)", p, got, inodes[p])
		}
	}
	after := snapshot(t, root)
	for p, v := range before {
		if p == ManifestName || strings.HasPrefix(p, "clusters/acme/a.yaml") || strings.HasPrefix(p, "environments/acme/x/") {
			continue
		}
		if after[p] != v {
			t.Errorf("%s: %q, was %q", p, after[p], v)
		}
	}
	if _, ok := after["environments/acme/x/"]; ok {
		t.Errorf("the directory emptied of stale files was kept")
	}
	for name, want := range map[string]os.FileMode{"": 0o751, "notes": 0o750, "empty": 0o755} {
		fi, err := os.Stat(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want&^umask(t) {
			t.Errorf("directory %q has mode %v, want %v", name, got, want)
		}
	}
}

// umask returns the bits the process's umask clears, as observed.
func umask(t *testing.T) os.FileMode {
	d := filepath.Join(t.TempDir(), "probe")
	must(t, os.Mkdir(d, 0o777))
	fi, err := os.Stat(d)
	if err != nil {
		t.Fatal(err)
	}
	return 0o777 &^ fi.Mode().Perm()
}

// TestRootGivenAsSymlink: a root that is a link is written where it points,
// and stays a link.
func TestRootGivenAsSymlink(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real", "out")
	must(t, os.MkdirAll(real, 0o755))
	link := filepath.Join(base, "out")
	must(t, os.Symlink(filepath.Join("real", "out"), link))
	for _, content := range []string{"1", "2"} {
		if _, err := Write(link, bytesMap(map[string]string{"a.yaml": content}), nil); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the root link was replaced: %v, %v", fi, err)
	}
	if got := readTree(t, real); !maps.Equal(got, map[string]string{"a.yaml": "2"}) {
		t.Errorf("tree at the link's target: %q", got)
	}
	if ents, _ := os.ReadDir(filepath.Join(base, "real")); len(ents) != 1 {
		t.Errorf("left beside the real root: %v", ents)
	}
}

// crashAt returns a testHook that simulates a kill at the n-th step named
// event.
func crashAt(event string, n int) func(string, string) error {
	seen := 0
	return func(ev, p string) error {
		if ev == event {
			if seen++; seen == n {
				return errTestCrash
			}
		}
		return nil
	}
}

// TestSwapRecovery simulates a kill at each step of a swap (with the
// exchange, and with the fallback renames) and checks what the disk holds
// before any recovery, then what each entry point (Plan, ReadManifest,
// Write) makes of it.
func TestSwapRecovery(t *testing.T) {
	oldTree := map[string]string{"a.yaml": "old", "gone/x.yaml": "x"}
	newTree := map[string]string{"a.yaml": "new", "b.yaml": "b"}
	tests := []struct {
		noExchange bool
		crash      string
		rootGone   bool   // before recovery, root is missing
		want       string // "old" or "new": the tree after recovery
	}{
		{false, "staged", false, "old"},
		{false, "swapped", false, "new"},
		{true, "staged", false, "old"},
		{true, "ready", false, "old"},
		{true, "old-moved", true, "new"},
		{true, "swapped", false, "new"},
	}
	for _, tt := range tests {
		for _, entry := range []string{"Plan", "ReadManifest", "Write"} {
			name := map[bool]string{false: "exchange", true: "fallback"}[tt.noExchange] + "/" + tt.crash + "/" + entry
			t.Run(name, func(t *testing.T) {
				base := t.TempDir()
				root := filepath.Join(base, "out")
				writeTree(t, root, map[string]string{"user.txt": "mine"})
				if _, err := Write(root, bytesMap(oldTree), nil); err != nil {
					t.Fatal(err)
				}
				want := map[string]map[string]string{"old": readTree(t, root)}
				testNoExchange = tt.noExchange
				t.Cleanup(func() { testNoExchange = false })
				setHook(t, crashAt(tt.crash, 1))
				if _, err := Write(root, bytesMap(newTree), nil); !errors.Is(err, errTestCrash) {
					t.Fatalf("Write: %v, want the simulated crash", err)
				}
				testHook = nil
				want["new"] = map[string]string{"user.txt": "mine", "a.yaml": "new", "b.yaml": "b"}

				if _, err := os.Lstat(root); (err != nil) != tt.rootGone {
					t.Fatalf("before recovery: root missing = %v, want %v", err != nil, tt.rootGone)
				}
				if !tt.rootGone {
					if got := readTree(t, root); !maps.Equal(got, want["old"]) && !maps.Equal(got, want["new"]) {
						t.Fatalf("before recovery the tree is mixed: %q", got)
					}
				}
				if len(siblingNames(t, base)) == 0 && tt.crash != "staged" {
					t.Errorf("expected a leftover beside the root")
				}

				var err error
				switch entry {
				case "Plan":
					_, err = Plan(root, bytesMap(newTree), nil)
				case "ReadManifest":
					_, err = ReadManifest(root)
				case "Write":
					_, err = Write(root, bytesMap(oldTree), nil)
				}
				if err != nil {
					t.Fatalf("%s after the crash: %v", entry, err)
				}
				got := readTree(t, root)
				if entry == "Write" {
					if !maps.Equal(got, want["old"]) {
						t.Errorf("after Write of the old tree: %q", got)
					}
					if left := siblingNames(t, base); len(left) != 0 {
						t.Errorf("Write left %q beside the root", left)
					}
					return
				}
				if !maps.Equal(got, want[tt.want]) {
					t.Errorf("after %s: %q, want the %s tree %q", entry, got, tt.want, want[tt.want])
				}
				m, err := ReadManifest(root)
				if err != nil {
					t.Fatal(err)
				}
				wantOwned := slices.Sorted(maps.Keys(map[string]map[string]string{"old": oldTree, "new": newTree}[tt.want]))
				if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, wantOwned) {
					t.Errorf("manifest lists %q, want %q", got, wantOwned)
				}
			})
		}
	}
}

// TestRecoveryPicksReadyTree: with root missing, a ready tree whose old tree
// is there wins; without a ready tree, an old tree moves back.
func TestRecoveryPicksReadyTree(t *testing.T) {
	for _, tt := range []struct {
		dirs []string
		want string
	}{
		{[]string{"ready-AAAAAAAAAA", "ready-BBBBBBBBBB", "old-BBBBBBBBBB", "stage-CCCCCCCCCC"}, "ready-BBBBBBBBBB"},
		{[]string{"ready-BBBBBBBBBB", "stage-CCCCCCCCCC"}, "ready-BBBBBBBBBB"},
		{[]string{"old-DDDDDDDDDD", "stage-CCCCCCCCCC"}, "old-DDDDDDDDDD"},
		{[]string{"stage-CCCCCCCCCC"}, ""},
	} {
		base := t.TempDir()
		root := filepath.Join(base, "out")
		for _, d := range tt.dirs {
			writeTree(t, filepath.Join(base, ".out.katonic-"+d), map[string]string{"from": d})
		}
		if _, err := ReadManifest(root); err != nil {
			t.Fatal(err)
		}
		got := readTree(t, root)["from"]
		if got != tt.want {
			t.Errorf("%q: root is %q, want %q", tt.dirs, got, tt.want)
		}
	}
}

// TestRecoveryRefusesRecreatedRoot: both halves of an interrupted fallback
// swap, and a root made again by hand: katonic removes neither tree.
func TestRecoveryRefusesRecreatedRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "out")
	must(t, os.MkdirAll(root, 0o755))
	for _, d := range []string{".out.katonic-ready-AAAAAAAAAA", ".out.katonic-old-AAAAAAAAAA"} {
		writeTree(t, filepath.Join(base, d), map[string]string{"f": d})
	}
	for name, call := range map[string]func() error{
		"Write":        func() error { _, err := Write(root, nil, nil); return err },
		"Plan":         func() error { _, err := Plan(root, nil, nil); return err },
		"ReadManifest": func() error { _, err := ReadManifest(root); return err },
	} {
		err := call()
		if name == "ReadManifest" {
			// It only recovers what blocks reading: root is there.
			if err != nil {
				t.Errorf("ReadManifest: %v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "exists again; move the tree you want to") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := siblingNames(t, base); len(got) != 2 {
		t.Errorf("beside the root: %q", got)
	}
}

// TestWriteRemovesLeftovers: Write removes the staging, ready and old
// directories that killed renders left beside the root, and nothing else.
func TestWriteRemovesLeftovers(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "out")
	must(t, os.MkdirAll(root, 0o755))
	leftovers := []string{".out.katonic-stage-AAAAAAAAAA", ".out.katonic-ready-BBBBBBBBBB", ".out.katonic-old-CCCCCCCCCC"}
	others := []string{".out.katonic-stage-short", ".out.katonic-other-AAAAAAAAAA", ".other.katonic-stage-AAAAAAAAAA", "out2"}
	for _, d := range append(slices.Clone(leftovers), others...) {
		writeTree(t, filepath.Join(base, d), map[string]string{"sub/f": "x"})
	}
	// A leftover directory that forbids removing its entries goes too.
	must(t, os.Chmod(filepath.Join(base, leftovers[2], "sub"), 0o555))
	if _, err := Plan(root, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := siblingNames(t, base); len(got) != 5 {
		t.Errorf("Plan removed leftovers: %q", got)
	}
	if _, err := Write(root, bytesMap(map[string]string{"a": "a"}), nil); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(base)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	want := append([]string{"out"}, others...)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("beside the root: %q, want %q", got, want)
	}
}

// TestInPlaceWhenRootCannotMove: a root that holds .git, or the working
// directory, is written in place, through the journal.
func TestInPlaceWhenRootCannotMove(t *testing.T) {
	for _, tt := range []struct {
		name   string
		setup  func(t *testing.T, root string)
		reason string
	}{
		{"repository root", func(t *testing.T, root string) { writeTree(t, root, map[string]string{".git/HEAD": "x"}) }, "it holds .git (it is a repository's root)"},
		{"worktree", func(t *testing.T, root string) { writeTree(t, root, map[string]string{".git": "gitdir: ../x"}) }, "it holds .git (it is a repository's root)"},
		{"working directory", func(t *testing.T, root string) { must(t, os.MkdirAll(root, 0o755)); t.Chdir(root) }, "it holds the working directory"},
		{"working directory below", func(t *testing.T, root string) {
			must(t, os.MkdirAll(filepath.Join(root, "sub"), 0o755))
			t.Chdir(filepath.Join(root, "sub"))
		}, "it holds the working directory"},
		{"plain", func(t *testing.T, root string) { must(t, os.MkdirAll(root, 0o755)) }, ""},
		{"missing", func(t *testing.T, root string) {}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "out")
			tt.setup(t, root)
			ino := uint64(0)
			if _, err := os.Lstat(root); err == nil {
				ino = inode(t, root)
			}
			var reasons []string
			setHook(t, func(ev, p string) error {
				if ev == "mode" {
					reasons = append(reasons, p)
				}
				return nil
			})
			for _, content := range []string{"1", "2"} {
				if _, err := Write(root, bytesMap(map[string]string{"d/a.yaml": content}), nil); err != nil {
					t.Fatal(err)
				}
			}
			if want := []string{tt.reason, tt.reason}; !slices.Equal(reasons, want) {
				t.Errorf("strategy reasons %q, want %q", reasons, want)
			}
			if got := readTree(t, root)["d/a.yaml"]; got != "2" {
				t.Errorf("d/a.yaml = %q", got)
			}
			if tt.reason != "" && inode(t, root) != ino {
				t.Errorf("the root was replaced")
			}
			for _, n := range []string{journalName, stagingName} {
				if _, err := os.Lstat(filepath.Join(root, n)); err == nil {
					t.Errorf("%s left in the root", n)
				}
			}
		})
	}
}

// TestInPlaceRecovery simulates a kill at each step of an in-place render
// and checks that the next call gives the complete old tree (before the
// journal) or the complete new one (after).
func TestInPlaceRecovery(t *testing.T) {
	oldTree := map[string]string{"a.yaml": "old", "gone/deep/x.yaml": "x", "f": "file", "dir/y.yaml": "y"}
	newTree := map[string]string{"a.yaml": "new", "b/b.yaml": "b", "f/now-a-dir.yaml": "z", "dir": "now a file"}
	tests := []struct {
		crash string
		n     int
		want  string
	}{
		{"stage", 2, "old"},
		{"staged", 1, "old"},
		{"journal", 1, "new"},
		{"apply", 1, "new"},
		{"apply", 3, "new"},
		{"apply", 5, "new"},
		{"applied", 1, "new"},
	}
	user := map[string]string{".git/HEAD": "x", "user.txt": "mine", "gone/keep/": ""}
	want := map[string]map[string]string{}
	ref := filepath.Join(t.TempDir(), "out")
	writeTree(t, ref, user)
	for name, tree := range map[string]map[string]string{"old": oldTree, "new": newTree} {
		if _, err := Write(ref, bytesMap(tree), nil); err != nil {
			t.Fatal(err)
		}
		want[name] = snapshot(t, ref)
	}
	for _, tt := range tests {
		for _, entry := range []string{"Plan", "ReadManifest", "Write"} {
			t.Run(tt.crash+"/"+entry, func(t *testing.T) {
				root := filepath.Join(t.TempDir(), "out")
				writeTree(t, root, user)
				if _, err := Write(root, bytesMap(oldTree), nil); err != nil {
					t.Fatal(err)
				}
				setHook(t, crashAt(tt.crash, tt.n))
				if _, err := Write(root, bytesMap(newTree), nil); !errors.Is(err, errTestCrash) {
					t.Fatalf("Write: %v, want the simulated crash", err)
				}
				testHook = nil
				var err error
				switch entry {
				case "Plan":
					_, err = Plan(root, bytesMap(newTree), nil)
				case "ReadManifest":
					_, err = ReadManifest(root)
				case "Write":
					_, err = Write(root, bytesMap(newTree), nil)
				}
				if err != nil {
					t.Fatalf("%s after the crash: %v", entry, err)
				}
				wantTree := want[tt.want]
				if entry == "Write" {
					wantTree = want["new"]
				}
				if got := snapshot(t, root); !maps.Equal(got, wantTree) {
					t.Errorf("after %s:\n got %q\nwant %q", entry, got, wantTree)
				}
			})
		}
	}
}

// TestJournalTampering: a journal that is not katonic's is refused with its
// line, and nothing is done.
func TestJournalTampering(t *testing.T) {
	for _, tt := range []struct{ journal, want string }{
		{"del ../x\n", `.katonic-journal:1: invalid path: ../x: path has a ".." segment; it must stay inside the output root: "del ../x"`},
		{"put 1 /etc/passwd\n", `.katonic-journal:1: invalid path`},
		{"put x a.yaml\n", "malformed staged file name"},
		{"put ../1 a.yaml\n", "malformed staged file name"},
		{"chmod a.yaml\n", "unknown step"},
		{"manifest now\n", "malformed step"},
	} {
		base := t.TempDir()
		root := filepath.Join(base, "out")
		writeTree(t, root, map[string]string{journalName: tt.journal, "a.yaml": "keep"})
		_, err := ReadManifest(root)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("journal %q: %v, want an error containing %q", tt.journal, err, tt.want)
		}
		if got := readTree(t, root)["a.yaml"]; got != "keep" {
			t.Errorf("journal %q: a.yaml = %q", tt.journal, got)
		}
	}
}

// TestCopyFile: where a hard link is impossible, a file is copied with its
// content, mode and modification time.
func TestCopyFile(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "src"), []byte("content"), 0o640))
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(dir, "src"), mtime, mtime))
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fi, err := r.Lstat("src")
	if err != nil {
		t.Fatal(err)
	}
	if err := copyFile(r, "src", "dst", fi); err != nil {
		t.Fatal(err)
	}
	got, err := os.Stat(filepath.Join(dir, "dst"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "dst")); string(b) != "content" || got.Mode() != fi.Mode() || !got.ModTime().Equal(mtime) {
		t.Errorf("copy: %q, mode %v, mtime %v", b, got.Mode(), got.ModTime())
	}
}

// TestReadOnlyParent: where the root's parent cannot be written, the lock
// file goes inside the root and the render is written in place.
func TestReadOnlyParent(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	parent := filepath.Join(t.TempDir(), "p")
	root := filepath.Join(parent, "out")
	must(t, os.MkdirAll(root, 0o755))
	must(t, os.Chmod(parent, 0o555))
	t.Cleanup(func() { os.Chmod(parent, 0o755) })
	var events []string
	setHook(t, func(ev, p string) error {
		if ev == "locked" || ev == "mode" {
			events = append(events, ev+" "+p)
		}
		return nil
	})
	if _, err := Write(root, bytesMap(map[string]string{"a.yaml": "a"}), nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"locked " + filepath.Join(root, insideLockName), "mode ", "mode its parent directory is not writable"}
	if !slices.Equal(events, want) {
		t.Errorf("steps %q, want %q", events, want)
	}
	if got := readTree(t, root); !maps.Equal(got, map[string]string{"a.yaml": "a"}) {
		t.Errorf("tree %q", got)
	}
	if changes, err := Plan(root, bytesMap(map[string]string{"a.yaml": "a"}), nil); err != nil || len(changes) != 0 {
		t.Errorf("Plan: %q, %v", changeStrings(changes), err)
	}
}

// TestSwapFallsBackToInPlace: when the tree cannot be staged (here a
// simulated nested mount point), Write removes the staging directory and
// writes in place.
func TestSwapFallsBackToInPlace(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "out")
	writeTree(t, root, map[string]string{"user/f.txt": "mine"})
	if _, err := Write(root, bytesMap(map[string]string{"a.yaml": "a"}), nil); err != nil {
		t.Fatal(err)
	}
	ino := inode(t, root)
	var reasons []string
	setHook(t, func(ev, p string) error {
		switch ev {
		case "mode":
			reasons = append(reasons, p)
		case "carry":
			return &carryError{"user is a mount point (simulated)"}
		}
		return nil
	})
	if _, err := Write(root, bytesMap(map[string]string{"a.yaml": "b", "c.yaml": "c"}), nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{"", "user is a mount point (simulated)"}; !slices.Equal(reasons, want) {
		t.Errorf("strategy reasons %q, want %q", reasons, want)
	}
	if got, want := readTree(t, root), map[string]string{"user/f.txt": "mine", "a.yaml": "b", "c.yaml": "c"}; !maps.Equal(got, want) {
		t.Errorf("tree %q, want %q", got, want)
	}
	if inode(t, root) != ino {
		t.Errorf("the root was replaced")
	}
	if left := siblingNames(t, base); len(left) != 0 {
		t.Errorf("left beside the root: %q", left)
	}
}
