package outdir

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test binary doubles as a helper process (the os/exec pattern): with
// helperEnv set, TestMain runs a helper instead of the tests.
const (
	helperEnv     = "KATONIC_OUTDIR_HELPER" // "write" or "lock"
	helperRoot    = "KATONIC_OUTDIR_ROOT"   // the output root
	helperTree    = "KATONIC_OUTDIR_TREE"   // write: "a" or "b" (see genTree)
	helperFiles   = "KATONIC_OUTDIR_FILES"  // write: the tree's size
	helperStop    = "KATONIC_OUTDIR_STOP"   // write: block at this event (1-based); 0: never
	helperNoExchg = "KATONIC_OUTDIR_NOEXCHANGE"
	helperScoped  = "KATONIC_OUTDIR_SCOPED" // write: with killScope
)

// killScope is the scope of the scoped writes of TestKillMidWrite: two of
// genTree's environments, one with flux bootstrap's files and one with a
// user's, and the directories only one of the trees has.
var killScope = Scope{"clusters/e0/", "clusters/e1/", "environments/e0/", "environments/e1/", "environments/aonly/", "environments/bonly/"}

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "write":
		os.Exit(helperWrite())
	case "lock":
		os.Exit(helperLock())
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown helper %q\n", helperEnv, os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// helperWrite writes tree KATONIC_OUTDIR_TREE into KATONIC_OUTDIR_ROOT,
// printing "<event> <path>" on stdout at each step (testHook). At step
// KATONIC_OUTDIR_STOP it stops and waits to be killed.
func helperWrite() int {
	n, _ := strconv.Atoi(os.Getenv(helperFiles))
	stop, _ := strconv.Atoi(os.Getenv(helperStop))
	testNoExchange = os.Getenv(helperNoExchg) != ""
	count := 0
	var mu sync.Mutex // files are read in parallel
	testHook = func(event, p string) error {
		mu.Lock()
		defer mu.Unlock()
		count++
		fmt.Fprintf(os.Stdout, "%s %s\n", event, p)
		if count == stop {
			time.Sleep(time.Hour) // until the test kills us
		}
		return nil
	}
	tree, scope := genTree(os.Getenv(helperTree), n), Scope(nil)
	if os.Getenv(helperScoped) != "" {
		scope = killScope
		maps.DeleteFunc(tree, func(p string, _ []byte) bool { return !scope.contains(p) })
	}
	if _, err := Write(os.Getenv(helperRoot), tree, scope); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// helperLock takes the lock of KATONIC_OUTDIR_ROOT, prints "locked", and
// holds it until its stdin is closed.
func helperLock() int {
	t, err := resolve(os.Getenv(helperRoot))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	l, err := t.lock(Options{LockTimeout: -1}, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	l.release()
	return 0
}

// genTree returns one of two renders, "a" and "b", of about n files over
// eight environments: b changes a fortieth of a's files, drops some, adds
// others (new files are what costs, on a slow disk), and each has a directory of its own that the other's render prunes.
func genTree(variant string, n int) map[string][]byte {
	files := map[string][]byte{}
	for i := range n {
		p := fmt.Sprintf("environments/e%d/layer%d/f%05d.yaml", i%8, i%3, i)
		v := "A"
		switch {
		case variant == "a" && i%60 == 3, variant == "b" && i%50 == 1:
			continue
		case variant == "b" && i%40 == 0:
			v = "B"
		}
		files[p] = fmt.Appendf(nil, "kind: %s\nindex: %d\n%s", v, i, strings.Repeat("x", i%200))
	}
	for e := range 8 {
		files[fmt.Sprintf("clusters/e%d/kustomization.yaml", e)] = fmt.Appendf(nil, "render %s of e%d\n", variant, e)
	}
	files["environments/"+variant+"only/deep/dir/file.yaml"] = []byte(variant)
	return files
}

// userFiles are files katonic does not own, present before the first render:
// what `flux bootstrap` writes, a README, a note among generated files, a
// link, an empty directory, and a file that keeps a pruned directory alive.
var userFiles = map[string]string{
	"clusters/e0/flux-system/gotk-sync.yaml":     "flux bootstrap wrote this\n",
	"clusters/e0/flux-system/kustomization.yaml": "resources: [gotk-sync.yaml]\n",
	"README.md":                   "# out\n",
	"environments/e1/notes.txt":   "mine\n",
	"environments/aonly/keep.txt": "keeps environments/aonly\n",
	"empty/":                      "",
}

// setUpRoot creates root with the user files and a link, then writes tree a
// into it.
func setUpRoot(t *testing.T, root string, n int) {
	t.Helper()
	writeTree(t, root, userFiles)
	must(t, os.Symlink("README.md", filepath.Join(root, "docs-link")))
	if _, err := Write(root, genTree("a", n), nil); err != nil {
		t.Fatal(err)
	}
}

// linkCopy copies the tree src to dst (which must not exist) with hard
// links: fast, and safe for Write, which never changes a file in place.
func linkCopy(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, name)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.Mkdir(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(name)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		}
		return os.Link(name, to)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func userInodes(t *testing.T, root string) map[string]uint64 {
	t.Helper()
	ids := map[string]uint64{}
	for p := range userFiles {
		if strings.HasSuffix(p, "/") {
			continue
		}
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		_, ino, _ := fileID(fi)
		ids[p] = ino
	}
	return ids
}

// checkParent fails if dir, the root's parent, holds anything but the root
// ("out"), its lock file and katonic's staging, ready and old directories.
func checkParent(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		n := e.Name()
		if n == "out" || n == ".out.katonic-lock" {
			continue
		}
		kind, id, _ := strings.Cut(strings.TrimPrefix(n, ".out.katonic-"), "-")
		if strings.HasPrefix(n, ".out.katonic-") && (kind == kindStage || kind == kindReady || kind == kindOld) && isID(id) && e.IsDir() {
			continue
		}
		t.Errorf("unexpected %s beside the output root", n)
	}
}

// helperEnviron is the environment of a helper process: this one's, with
// the race detector's one-second sleep at exit turned off.
func helperEnviron() []string {
	return append(os.Environ(), "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

// child is a running helperWrite.
type child struct {
	cmd    *exec.Cmd
	out    *bufio.Reader
	stderr bytes.Buffer
}

func startWriter(t *testing.T, root, tree string, n, stop int, noExchange, scoped bool) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0])}
	c.cmd.Env = append(helperEnviron(), helperEnv+"=write", helperRoot+"="+root, helperTree+"="+tree,
		helperFiles+"="+strconv.Itoa(n), helperStop+"="+strconv.Itoa(stop))
	if noExchange {
		c.cmd.Env = append(c.cmd.Env, helperNoExchg+"=1")
	}
	if scoped {
		c.cmd.Env = append(c.cmd.Env, helperScoped+"=1")
	}
	c.cmd.Stderr = &c.stderr
	pipe, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.out = bufio.NewReader(pipe)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// events reads up to max events (all, if max <= 0) and returns them.
func (c *child) events(max int) []string {
	var evs []string
	for max <= 0 || len(evs) < max {
		line, err := c.out.ReadString('\n')
		if err != nil {
			break
		}
		evs = append(evs, strings.TrimSuffix(line, "\n"))
	}
	return evs
}

// TestKillMidWrite kills a helper process (SIGKILL) while it writes a tree
// of a few thousand files, at every step that matters and at arbitrary
// moments, and checks each time that out/ is byte for byte the complete old
// or the complete new tree, with the user's files untouched (same inode),
// and nothing written beside it but katonic's own lock and staging
// directories. With the exchange that holds without any recovery; with the
// fallback swap and in place, after the recovery entry point (ReadManifest).
// A scoped write ("directories": killScope) replaces each directory of the
// scope as a whole: before any recovery each is wholly old or wholly new,
// and the rest of the tree untouched.
func TestKillMidWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns helper processes")
	}
	// A thousand files: enough that the kills land all over a write, few
	// enough that the test stays under ten seconds on a slow disk (creating
	// and removing files is what costs).
	n := 1000
	if raceEnabled {
		n = 500 // the same steps over fewer files: the race detector slows the helper
	}
	master := filepath.Join(t.TempDir(), "out")
	setUpRoot(t, master, n)
	for _, mode := range []string{"exchange", "fallback", "in place", "directories"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			root := filepath.Join(base, "out")
			linkCopy(t, master, root)
			inPlace, noExchange, scoped := mode == "in place", mode == "fallback", mode == "directories"
			if inPlace {
				writeTree(t, root, map[string]string{".git/HEAD": "ref: refs/heads/main\n"})
			}
			inodes := userInodes(t, root)

			// The two trees, and the steps of a write from one to the other.
			want := map[string]map[string]string{"a": snapshot(t, root)}
			steps := map[string][]string{}
			for _, to := range []string{"b", "a"} {
				c := startWriter(t, root, to, n, 0, noExchange, scoped)
				steps[to] = c.events(0)
				if err := c.cmd.Wait(); err != nil {
					t.Fatalf("helper writing %s: %v\n%s", to, err, c.stderr.String())
				}
				if to == "b" {
					want["b"] = snapshot(t, root)
				} else if got := snapshot(t, root); !maps.Equal(got, want["a"]) {
					t.Fatalf("writing a again did not give tree a:\n%s", treeDiff(got, want["a"], want["a"]))
				}
			}
			if maps.Equal(want["a"], want["b"]) {
				t.Fatal("trees a and b are the same")
			}
			commit := map[string]string{"exchange": "swapped", "fallback": "old-moved", "in place": "journal", "directories": "journal"}[mode]

			// Kill points, by step name (and where among the steps of that
			// name), so that they apply to a write in either direction: every
			// step but the per-file ones, the first of those and a middle
			// new file, and three kills that land wherever the helper has got
			// to.
			type kill struct {
				event string  // block at a step of this name
				at    float64 // this far among them; or, without event, kill this far into the steps
			}
			var kills []kill
			for _, ev := range steps["b"] {
				name, _, _ := strings.Cut(ev, " ")
				if !slices.ContainsFunc(kills, func(k kill) bool { return k.event == name }) {
					kills = append(kills, kill{event: name})
					if name == "stage" || name == "apply" {
						kills = append(kills, kill{event: name, at: 0.5})
					}
				}
			}
			kills = append(kills, kill{at: 0.1}, kill{at: 0.5}, kill{at: 0.9})

			state := "a"
			for _, k := range kills {
				to := map[string]string{"a": "b", "b": "a"}[state]
				steps := steps[to]
				stop, after := 0, int(k.at*float64(len(steps)))
				if k.event != "" {
					var idx []int
					for i, s := range steps {
						if name, _, _ := strings.Cut(s, " "); name == k.event {
							idx = append(idx, i)
						}
					}
					if len(idx) == 0 {
						t.Fatalf("writing %s has no %s step", to, k.event)
					}
					stop = idx[int(k.at*float64(len(idx)))] + 1
				}
				c := startWriter(t, root, to, n, stop, noExchange, scoped)
				wantState := ""
				if stop > 0 {
					if got := c.events(stop); len(got) != stop {
						t.Fatalf("helper writing %s ended after %d steps, want %d\n%s", to, len(got), stop, c.stderr.String())
					}
					wantState = state
					if slices.Index(steps, commitEvent(steps, commit)) < stop {
						wantState = to
					}
				} else {
					c.events(after)
				}
				c.cmd.Process.Kill()
				c.cmd.Wait()
				at := max(stop, after, 1)
				where := fmt.Sprintf("killed writing %s at step %d/%d %q", to, at, len(steps), steps[at-1])

				if mode == "exchange" {
					if got := snapshot(t, root); !maps.Equal(got, want["a"]) && !maps.Equal(got, want["b"]) {
						t.Fatalf("%s: out/ is neither tree before any recovery:\n%s", where, treeDiff(got, want[state], want[to]))
					}
				}
				if scoped {
					checkUnits(t, where, snapshot(t, root), want["a"], want["b"])
				}
				if _, err := ReadManifest(root); err != nil {
					t.Fatalf("%s: recovery: %v", where, err)
				}
				got := snapshot(t, root)
				switch {
				case maps.Equal(got, want[to]):
					state = to
				case maps.Equal(got, want[state]):
				default:
					t.Fatalf("%s: out/ is neither the old nor the new tree:\n%s", where, treeDiff(got, want[state], want[to]))
				}
				if wantState != "" && state != wantState {
					t.Fatalf("%s: out/ is tree %s, want %s", where, state, wantState)
				}
				if ids := userInodes(t, root); !maps.Equal(ids, inodes) {
					t.Fatalf("%s: user files were rewritten (inodes %v, were %v)", where, ids, inodes)
				}
				checkParent(t, base)
			}

			if scoped {
				n := 0
				for _, k := range kills {
					if k.event == "exchanged" {
						n++
					}
				}
				if n == 0 {
					t.Fatal("no kill between the exchanges of a scoped write")
				}
			}
			// A complete render afterwards cleans up everything.
			final, scope := genTree("b", n), Scope(nil)
			if scoped {
				scope = killScope
				maps.DeleteFunc(final, func(p string, _ []byte) bool { return !scope.contains(p) })
			}
			if _, err := Write(root, final, scope); err != nil {
				t.Fatal(err)
			}
			if got := snapshot(t, root); !maps.Equal(got, want["b"]) {
				t.Fatalf("final render:\n%s", treeDiff(got, want["b"], want["b"]))
			}
			if left := siblingNames(t, base); len(left) != 0 {
				t.Errorf("left beside the root after a complete render: %q", left)
			}
			t.Logf("%d kill points; %d and %d steps", len(kills), len(steps["b"]), len(steps["a"]))
		})
	}
}

// commitEvent returns the step of steps named name.
func commitEvent(steps []string, name string) string {
	for _, s := range steps {
		if ev, _, _ := strings.Cut(s, " "); ev == name {
			return s
		}
	}
	return "<no " + name + " step>"
}

// treeDiff describes how got differs from trees a and b, briefly.
func treeDiff(got, a, b map[string]string) string {
	var lines []string
	for _, p := range slices.Sorted(maps.Keys(got)) {
		if got[p] != a[p] && got[p] != b[p] {
			lines = append(lines, fmt.Sprintf("  %s: in neither tree as it is", p))
		} else if got[p] != a[p] {
			lines = append(lines, fmt.Sprintf("  %s: as in the new tree", p))
		}
	}
	for p := range a {
		if _, ok := got[p]; !ok {
			lines = append(lines, fmt.Sprintf("  %s: missing", p))
		}
	}
	slices.Sort(lines)
	if len(lines) > 20 {
		lines = append(lines[:20], fmt.Sprintf("  … and %d more", len(lines)-20))
	}
	return strings.Join(lines, "\n")
}

// checkUnits fails unless each directory of killScope is in got as it is
// in tree a or in tree b, and everything else as in both (the manifest
// and katonic's journal and staging directory aside).
func checkUnits(t *testing.T, where string, got, a, b map[string]string) {
	t.Helper()
	in := func(p string) string {
		for _, prefix := range killScope {
			if strings.HasPrefix(p, prefix) {
				return prefix
			}
		}
		return ""
	}
	for _, prefix := range killScope {
		sub := func(tree map[string]string) map[string]string {
			return maps.Collect(func(yield func(string, string) bool) {
				for p, v := range tree {
					if strings.HasPrefix(p, prefix) && !yield(p, v) {
						return
					}
				}
			})
		}
		if g := sub(got); !maps.Equal(g, sub(a)) && !maps.Equal(g, sub(b)) {
			t.Fatalf("%s: before any recovery %s is neither old nor new:\n%s", where, prefix, treeDiff(g, sub(a), sub(b)))
		}
	}
	for p, v := range got {
		if in(p) == "" && p != ManifestName && !strings.HasPrefix(p, ".katonic-") && v != a[p] {
			t.Fatalf("%s: before any recovery %s, outside the scope, changed", where, p)
		}
	}
	for p := range a {
		if _, ok := got[p]; !ok && in(p) == "" {
			t.Fatalf("%s: before any recovery %s, outside the scope, is missing", where, p)
		}
	}
}
