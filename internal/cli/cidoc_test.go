package cli_test

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/chartrepo"
	"github.com/katonic/katonic/internal/testrepo"
)

// ciDocPath is the pull-request CI guide whose commands TestCIDoc runs,
// from this package; ciDoc is its name in messages.
const (
	ciDocPath = "../../docs/ci.md"
	ciDoc     = "docs/ci.md"
)

// TestCIDoc runs the commands of docs/ci.md on this repository's example
// environments (make ci-doc; .ci/run runs it), so the guide cannot drift
// from what katonic does: a step
// the guide shows that fails, or exits with a status the guide does not
// accept, fails the test, naming the step and its line in docs/ci.md.
//
// How it finds the commands: it reads every fenced code block of
// docs/ci.md.
//   - A ```yaml (or yml) block with a top-level jobs: key is a GitHub
//     Actions workflow. Its jobs run in needs: order, each once per
//     combination of its strategy.matrix, each in a fresh clone of the
//     pull request. Its run: steps run in order as GitHub runs them: the
//     step written to a file and run by bash --noprofile --norc -eo
//     pipefail (or sh -e with shell: sh), with the workflow's, job's and
//     step's env:, RUNNER_TEMP, GITHUB_BASE_REF, GITHUB_OUTPUT and
//     GITHUB_WORKSPACE set. ${{ }} expressions of matrix.*,
//     strategy.job-index and job-total, github.base_ref, head_ref and
//     workspace, runner.temp, env.* and steps.<id>.outputs.* are resolved;
//     any other is an error, so a new kind fails here instead of running
//     wrong. if: is not evaluated: every run step must succeed.
//     Its uses: steps do what the action would do here: checkout, setup-go
//     and cache nothing (the job starts in a fresh clone with an empty
//     cache); upload-sarif and the sticky pull-request comment check that
//     the file they would post exists; upload-artifact and
//     download-artifact copy files through a directory shared by the jobs.
//     Any other action is an error: add it to ciActions.
//   - A ```sh (bash, shell) block is a script, run with sh -e in a fresh
//     clone of the pull request.
//
// A run step or block that does not mention katonic is listed and not
// run. So every katonic command in the guide's run steps and sh blocks is
// run, including ones added later, with no change here. `go build -o OUT
// ./cmd/katonic` is answered by a go on PATH that links OUT to this test's
// katonic (cli.Main, the same code); any other go command fails.
//
// The repository: a git repository holding this checkout's CUE packages,
// the example environments and out/, with each example's charts.mirror a
// loopback Helm repository (as the verify_reference_charts scenario does)
// and out/ rendered; main is its first commit, and the pull request a
// branch that switches Airbyte on in globex-cloud (a change of medium
// risk). Every job clones it, so origin/main resolves. The mirror serves
// the real charts of ../shared/reference/charts and, for the charts it
// lacks (Katonic's private charts, MLflow, Superset; every chart where the
// folder is absent), stand-ins of the same name and version
// (testrepo.MockCharts), named in the log: this test proves the guide's
// commands, the verify_reference_charts scenario the real charts.
//
// A second pull request, which switches monitoring off in globex-cloud
// (deleted objects: high risk), runs the blocks that use diff --fail-on
// (without their chart steps) and expects exactly their steps with
// --fail-on to fail, with katonic saying why.
func TestCIDoc(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pull-request workflow of docs/ci.md")
	}
	if raceEnabled {
		// Every katonic it runs is this test binary, so under -race each
		// is several times slower (three minutes for the test) and checks
		// nothing the scenarios do not; make ci-doc runs it without.
		t.Skip("under the race detector: make ci-doc runs this test (.ci/run does)")
	}
	for _, tool := range []string{"git", "bash", "sh", "katonic"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s on PATH: %v", tool, err)
		}
	}
	doc, err := os.ReadFile(ciDocPath)
	if err != nil {
		t.Fatal(err)
	}
	blocks := ciBlocks(t, string(doc))
	var workflows, scripts int
	for _, b := range blocks {
		if b.workflow {
			workflows++
		} else {
			scripts++
		}
	}
	// The extractor itself must not rot: the guide has a workflow and a
	// shell script, each running katonic.
	if workflows == 0 || scripts == 0 {
		t.Fatalf("%s: found %d workflows and %d shell blocks that run katonic; want at least one of each", ciDoc, workflows, scripts)
	}

	fx := newCIFixture(t)
	cases := []struct {
		name, branch string
		// run says whether a block runs in this case, and skip which of
		// its run steps do not (nil: none).
		run  func(ciBlock) bool
		skip *regexp.Regexp
		// fails says whether a step is expected to fail, and why must
		// match the output of one that does.
		fails func(ciStep) bool
		why   *regexp.Regexp
	}{
		{"pull request", "pr",
			func(ciBlock) bool { return true }, nil,
			func(ciStep) bool { return false }, nil},
		// The chart steps, the slowest, have nothing to say about risk.
		{"high-risk pull request", "pr-high-risk",
			func(b ciBlock) bool { return strings.Contains(b.text, "--fail-on") },
			regexp.MustCompile(`katonic"?\s+(verify|charts)\b`),
			func(s ciStep) bool { return strings.Contains(s.run, "--fail-on") },
			regexp.MustCompile(`(?m)^katonic: changes at or above risk high$`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			artifacts := t.TempDir()
			for _, b := range blocks {
				if !c.run(b) {
					t.Logf("%s:%d: %s: not run here (no --fail-on)", ciDoc, b.line, b.name)
					continue
				}
				for _, j := range b.jobs {
					fx.runJob(t, j, c.branch, artifacts, c.skip, c.fails, c.why)
				}
			}
		})
	}
}

// ciBlock is one fenced block of docs/ci.md that runs katonic: a GitHub
// Actions workflow (its jobs, matrix expanded) or a shell script (one job
// of one step).
type ciBlock struct {
	name     string
	line     int
	text     string
	workflow bool
	jobs     []ciJob
}

// ciJob is one job run: a workflow job for one matrix combination, or a
// shell block.
type ciJob struct {
	name   string
	line   int
	env    map[string]string
	matrix map[string]string
	// index and total are strategy.job-index and strategy.job-total.
	index, total int
	steps        []ciStep
}

// ciStep is one step: a shell script (run) or an action (uses).
type ciStep struct {
	Name             string            `yaml:"name"`
	ID               string            `yaml:"id"`
	Uses             string            `yaml:"uses"`
	Run              string            `yaml:"run"`
	Shell            string            `yaml:"shell"`
	WorkingDirectory string            `yaml:"working-directory"`
	ContinueOnError  bool              `yaml:"continue-on-error"`
	Env              map[string]string `yaml:"env"`
	With             map[string]string `yaml:"with"`
	line             int
	// run is Run with nothing resolved yet, for expectations.
	run string
}

// fence matches a fenced code block of Markdown: its language and body.
var fence = regexp.MustCompile("(?ms)^```([A-Za-z]*)[^\\n]*\\n(.*?)^```")

// mentionsKatonic reports whether a script runs or builds katonic.
var mentionsKatonic = regexp.MustCompile(`(^|[\s"'/])katonic\b`)

// ciBlocks extracts the blocks of doc that run katonic.
func ciBlocks(t *testing.T, doc string) []ciBlock {
	t.Helper()
	var out []ciBlock
	for _, m := range fence.FindAllStringSubmatchIndex(doc, -1) {
		lang, body := doc[m[2]:m[3]], doc[m[4]:m[5]]
		line := strings.Count(doc[:m[4]], "\n") + 1 // the block's first line
		switch lang {
		case "yaml", "yml":
			var top map[string]any
			if err := yaml.Unmarshal([]byte(body), &top); err != nil {
				t.Fatalf("%s:%d: a yaml block that is not YAML: %v", ciDoc, line, err)
			}
			if _, ok := top["jobs"]; !ok {
				continue
			}
			b := ciWorkflow(t, body, line)
			if mentionsKatonic.MatchString(body) {
				out = append(out, b)
			}
		case "sh", "bash", "shell":
			if !mentionsKatonic.MatchString(body) {
				t.Logf("%s:%d: a shell block that does not run katonic: not run", ciDoc, line)
				continue
			}
			name := fmt.Sprintf("shell block at line %d", line)
			out = append(out, ciBlock{name: name, line: line, text: body, jobs: []ciJob{{
				name: name, line: line, total: 1,
				steps: []ciStep{{Name: "the script", Run: body, run: body, Shell: "sh", line: line}},
			}}})
		}
	}
	return out
}

// ciWorkflow parses a GitHub Actions workflow whose text starts at line
// of the guide into its jobs, in needs: order (document order otherwise),
// one per matrix combination.
func ciWorkflow(t *testing.T, body string, line int) ciBlock {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(body), &root); err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Name string            `yaml:"name"`
		Env  map[string]string `yaml:"env"`
		Jobs yaml.Node         `yaml:"jobs"`
	}
	if err := root.Decode(&wf); err != nil {
		t.Fatalf("%s:%d: %v", ciDoc, line, err)
	}
	type jobSpec struct {
		Needs    any               `yaml:"needs"`
		Env      map[string]string `yaml:"env"`
		Strategy struct {
			Matrix map[string]any `yaml:"matrix"`
		} `yaml:"strategy"`
		Steps []yaml.Node `yaml:"steps"`
	}
	b := ciBlock{name: "workflow " + wf.Name, line: line, text: body, workflow: true}
	var names []string
	specs := map[string]jobSpec{}
	needs := map[string][]string{}
	lines := map[string]int{}
	for i := 0; i+1 < len(wf.Jobs.Content); i += 2 {
		name := wf.Jobs.Content[i].Value
		var js jobSpec
		if err := wf.Jobs.Content[i+1].Decode(&js); err != nil {
			t.Fatalf("%s:%d: job %s: %v", ciDoc, line+wf.Jobs.Content[i].Line-1, name, err)
		}
		names = append(names, name)
		specs[name] = js
		lines[name] = line + wf.Jobs.Content[i].Line - 1
		switch n := js.Needs.(type) {
		case string:
			needs[name] = []string{n}
		case []any:
			for _, x := range n {
				needs[name] = append(needs[name], fmt.Sprint(x))
			}
		}
	}
	done := map[string]bool{}
	for len(done) < len(names) {
		progress := false
		for _, name := range names {
			if done[name] || slices.ContainsFunc(needs[name], func(n string) bool { return !done[n] }) {
				continue
			}
			done[name], progress = true, true
			js := specs[name]
			var steps []ciStep
			for _, n := range js.Steps {
				var s ciStep
				if err := n.Decode(&s); err != nil {
					t.Fatalf("%s:%d: %v", ciDoc, line+n.Line-1, err)
				}
				s.line, s.run = line+n.Line-1, s.Run
				steps = append(steps, s)
			}
			combos := matrixCombos(t, js.Strategy.Matrix, lines[name])
			for i, m := range combos {
				env := map[string]string{}
				for k, v := range wf.Env {
					env[k] = v
				}
				for k, v := range js.Env {
					env[k] = v
				}
				jn := "job " + name
				if len(m) > 0 {
					var parts []string
					for _, k := range sortedStringKeys(m) {
						parts = append(parts, k+"="+m[k])
					}
					jn += " (" + strings.Join(parts, ", ") + ")"
				}
				b.jobs = append(b.jobs, ciJob{name: jn, line: lines[name], env: env, matrix: m,
					index: i, total: len(combos), steps: steps})
			}
		}
		if !progress {
			t.Fatalf("%s:%d: the jobs' needs: form a cycle or name a job that does not exist", ciDoc, line)
		}
	}
	return b
}

// matrixCombos expands a strategy.matrix of lists into its combinations,
// keys in sorted order, as GitHub runs them; no matrix is one empty
// combination. include and exclude are not supported: the test says so.
func matrixCombos(t *testing.T, matrix map[string]any, line int) []map[string]string {
	t.Helper()
	combos := []map[string]string{{}}
	keys := make([]string, 0, len(matrix))
	for k := range matrix {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vals, ok := matrix[k].([]any)
		if !ok || k == "include" || k == "exclude" {
			t.Fatalf("%s:%d: strategy.matrix.%s: TestCIDoc expands lists of values only; extend matrixCombos", ciDoc, line, k)
		}
		var next []map[string]string
		for _, c := range combos {
			for _, v := range vals {
				n := map[string]string{k: fmt.Sprint(v)}
				for ck, cv := range c {
					n[ck] = cv
				}
				next = append(next, n)
			}
		}
		combos = next
	}
	return combos
}

func sortedStringKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ciActions are the actions docs/ci.md may use, and what each does in the
// test: nothing, check that the file named by a with: input exists, or
// copy artifacts.
var ciActions = map[string]string{
	"actions/checkout":                       "nothing", // the job starts in a fresh clone, full history
	"actions/setup-go":                       "nothing", // go build is answered by the go shim
	"actions/cache":                          "nothing", // the job starts with an empty cache
	"github/codeql-action/upload-sarif":      "file:sarif_file",
	"marocchino/sticky-pull-request-comment": "file:path",
	"actions/upload-artifact":                "upload",
	"actions/download-artifact":              "download",
}

// ciFixture is the repository the jobs clone, and what every job shares.
type ciFixture struct {
	origin  string
	katonic string
	shim    string
	env     []string
}

// goShim stands in for go in the jobs: it answers `go build -o OUT
// ./cmd/katonic` with a link to this test's katonic, and refuses anything
// else.
const goShim = `#!/bin/sh
if [ "$#" -eq 4 ] && [ "$1" = build ] && [ "$2" = -o ] && [ "$4" = ./cmd/katonic ]; then
	exec ln -sf "$KATONIC_BIN" "$3"
fi
echo "TestCIDoc: docs/ci.md runs 'go $*'; the test answers only 'go build -o OUT ./cmd/katonic'" >&2
exit 1
`

// newCIFixture builds the chart mirror, the repository with main and the
// two pull-request branches, and the go shim.
func newCIFixture(t *testing.T) *ciFixture {
	t.Helper()
	dir := t.TempDir()
	kat, err := exec.LookPath("katonic")
	if err != nil {
		t.Fatal(err)
	}
	fx := &ciFixture{origin: filepath.Join(dir, "origin"), katonic: kat, shim: filepath.Join(dir, "shim")}
	if err := os.MkdirAll(fx.shim, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fx.shim, "go"), []byte(goShim), 0o755); err != nil {
		t.Fatal(err)
	}
	// No configuration of the machine's git or katonic reaches the jobs.
	fx.env = []string{
		"PATH=" + fx.shim + string(filepath.ListSeparator) + os.Getenv("PATH"),
		"KATONIC_BIN=" + kat,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_AUTHOR_NAME=katonic CI", "GIT_AUTHOR_EMAIL=ci@katonic.example",
		"GIT_COMMITTER_NAME=katonic CI", "GIT_COMMITTER_EMAIL=ci@katonic.example",
		"LANG=C.UTF-8",
	}

	mirror := ciMirror(t, filepath.Join(dir, "mirror"))

	o := fx.origin
	if err := testrepo.Seed(repoRoot, o); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"environments", "out"} {
		if err := testrepo.CopyDir(filepath.Join(repoRoot, d), filepath.Join(o, d)); err != nil {
			t.Fatal(err)
		}
	}
	examples, _ := filepath.Glob(filepath.Join(o, "environments", "*.cue"))
	if len(examples) == 0 {
		t.Fatal("no example environments")
	}
	for _, f := range examples {
		addToEnvironment(t, f, `charts: mirror: "`+mirror+`"`)
	}
	home := filepath.Join(dir, "home")
	fx.sh(t, o, home, "git init -q -b main && katonic render 2>&1 && git add -A && git commit -q -m 'examples, charts from the mirror'")
	// The pull request: Airbyte on in globex-cloud (a new public host:
	// medium risk).
	fx.sh(t, o, home, "git checkout -q -b pr")
	addToEnvironment(t, filepath.Join(o, "environments", "globex-cloud.cue"), "services: airbyte: enabled: true")
	fx.sh(t, o, home, "katonic render 2>&1 && git add -A && git commit -q -m 'globex-cloud: Airbyte'")
	fx.sh(t, o, home, "set +e; katonic diff --base main --fail-on high >/dev/null 2>&1; test $? -eq 3")
	// The high-risk one: monitoring off in globex-cloud (deleted objects).
	fx.sh(t, o, home, "git checkout -q main && git checkout -q -b pr-high-risk")
	addToEnvironment(t, filepath.Join(o, "environments", "globex-cloud.cue"), "services: monitoring: enabled: false")
	fx.sh(t, o, home, "katonic render 2>&1 && git add -A && git commit -q -m 'globex-cloud: no monitoring'")
	fx.sh(t, o, home, "set +e; katonic diff --base main --fail-on high >/dev/null 2>&1; test $? -eq 8")
	fx.sh(t, o, home, "git checkout -q main")
	return fx
}

// addToEnvironment adds a field to the environment of an example file,
// before the closing brace of its struct (the file's last).
func addToEnvironment(t *testing.T, file, field string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.LastIndex(s, "}")
	if i < 0 {
		t.Fatalf("%s: no closing brace", file)
	}
	if err := os.WriteFile(file, []byte(s[:i]+"\t"+field+"\n"+s[i:]), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ciMirror fills dir with the real charts of ../shared/reference/charts and
// a stand-in for every chart of the catalog they lack, indexes it as
// `helm repo index` does, serves it on loopback for the rest of the test,
// and returns its URL.
func ciMirror(t *testing.T, dir string) string {
	t.Helper()
	refs, _ := filepath.Glob(filepath.Join(refChartsDir, "*.tgz"))
	if len(refs) == 0 {
		t.Logf("no %s: every chart is a stand-in", refChartsDir)
	}
	standIns, err := testrepo.MirrorCharts(dir, refChartsDir, t.TempDir(), catalog.Versions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("chart mirror: %d real charts from %s; stand-ins for %s", len(refs), refChartsDir, strings.Join(standIns, ", "))
	idx, err := repo.IndexDirectory(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := chartrepo.NewStaticRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s.URL
}

// sh runs a shell command of the fixture's own (not the guide's) in dir
// with HOME home, failing the test with its output if it fails.
func (fx *ciFixture) sh(t *testing.T, dir, home, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = dir
	cmd.Env = append(slices.Clone(fx.env), "HOME="+home)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

// runJob runs one job of the guide in a fresh clone of branch: its steps
// in order, every one even after a failure (but the run steps skip
// matches), each expected to succeed unless fails says otherwise, and then
// to print why. Artifacts pass through the artifacts directory.
func (fx *ciFixture) runJob(t *testing.T, j ciJob, branch, artifacts string, skip *regexp.Regexp, fails func(ciStep) bool, why *regexp.Regexp) {
	t.Helper()
	dir := t.TempDir()
	work, home, temp := filepath.Join(dir, "work"), filepath.Join(dir, "home"), filepath.Join(dir, "runner-temp")
	for _, d := range []string{home, temp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fx.sh(t, dir, home, "git clone -q "+fx.origin+" work && cd work && git checkout -q "+branch)
	ctx := &ciContext{job: j, temp: temp, work: work, outputs: map[string]map[string]string{}}
	t.Logf("%s:%d: %s, on branch %s", ciDoc, j.line, j.name, branch)
	for i, s := range j.steps {
		name := cmp.Or(s.Name, s.Uses, fmt.Sprintf("step %d", i+1))
		where := fmt.Sprintf("%s:%d: %s: step %q", ciDoc, s.line, j.name, name)
		if s.Uses != "" {
			what, err := fx.action(ctx, s, artifacts)
			if err != nil {
				t.Errorf("%s (%s): %v", where, s.Uses, err)
			} else {
				t.Logf("%s: %s", where, what)
			}
			continue
		}
		if !mentionsKatonic.MatchString(s.Run) {
			t.Logf("%s: runs no katonic: not run", where)
			continue
		}
		if skip != nil && skip.MatchString(s.Run) {
			t.Logf("%s: not run on this pull request", where)
			continue
		}
		start := time.Now()
		out, code, err := fx.runStep(t, ctx, s, home)
		where += fmt.Sprintf(" (%.1fs)", time.Since(start).Seconds())
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		want := fails(s)
		switch {
		case code != 0 && !want && !s.ContinueOnError:
			t.Errorf("%s failed (exit %d); the guide expects it to pass:\n%s", where, code, tail(out, 60))
		case code == 0 && want:
			t.Errorf("%s passed; on this pull request the guide expects it to fail:\n%s", where, tail(out, 60))
		case code != 0 && want && why != nil && !why.MatchString(out):
			t.Errorf("%s failed (exit %d), but not saying %q:\n%s", where, code, why, tail(out, 60))
		default:
			t.Logf("%s: exit %d, as the guide expects", where, code)
		}
	}
}

// ciContext is what a job's expressions and actions read.
type ciContext struct {
	job        ciJob
	temp, work string
	outputs    map[string]map[string]string
	stepEnv    map[string]string
}

// expr matches a ${{ }} expression of a workflow.
var expr = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// resolve replaces the ${{ }} expressions of s; one it does not know is
// an error naming it.
func (c *ciContext) resolve(s string) (string, error) {
	var bad []string
	r := expr.ReplaceAllStringFunc(s, func(m string) string {
		e := expr.FindStringSubmatch(m)[1]
		head, rest, _ := strings.Cut(e, ".")
		switch {
		case head == "matrix":
			if v, ok := c.job.matrix[rest]; ok {
				return v
			}
		case e == "strategy.job-index":
			return strconv.Itoa(c.job.index)
		case e == "strategy.job-total":
			return strconv.Itoa(c.job.total)
		case e == "github.base_ref":
			return "main"
		case e == "github.head_ref":
			return "pr"
		case e == "github.workspace":
			return c.work
		case e == "runner.temp":
			return c.temp
		case head == "env":
			if v, ok := c.stepEnv[rest]; ok {
				return v
			}
			if v, ok := c.job.env[rest]; ok {
				return v
			}
		case head == "steps":
			id, key, _ := strings.Cut(rest, ".outputs.")
			if v, ok := c.outputs[id][key]; ok {
				return v
			}
		}
		bad = append(bad, m)
		return m
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("TestCIDoc cannot resolve %s: extend ciContext.resolve", strings.Join(bad, ", "))
	}
	return r, nil
}

// runStep runs a run: step as GitHub does and returns its combined output
// and exit code; the error is for a step that could not be started.
func (fx *ciFixture) runStep(t *testing.T, c *ciContext, s ciStep, home string) (string, int, error) {
	t.Helper()
	env := map[string]string{}
	for k, v := range c.job.env {
		env[k] = v
	}
	c.stepEnv = s.Env
	for k, v := range s.Env {
		env[k] = v
	}
	for k, v := range env {
		r, err := c.resolve(v)
		if err != nil {
			return "", 0, fmt.Errorf("env %s: %w", k, err)
		}
		env[k] = r
	}
	script, err := c.resolve(s.Run)
	if err != nil {
		return "", 0, err
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "step.sh")
	output := filepath.Join(dir, "output")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		return "", 0, err
	}
	if err := os.WriteFile(output, nil, 0o644); err != nil {
		return "", 0, err
	}
	args := []string{"bash", "--noprofile", "--norc", "-eo", "pipefail", file}
	switch s.Shell {
	case "", "bash":
	case "sh":
		args = []string{"sh", "-e", file}
	default:
		return "", 0, fmt.Errorf("shell: %s: TestCIDoc runs bash and sh only", s.Shell)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = filepath.Join(c.work, s.WorkingDirectory)
	cmd.Env = append(slices.Clone(fx.env), "HOME="+home, "TMPDIR="+dir, "CI=true",
		"RUNNER_TEMP="+c.temp, "GITHUB_WORKSPACE="+c.work, "GITHUB_OUTPUT="+output,
		"GITHUB_BASE_REF=main", "GITHUB_HEAD_REF=pr", "GITHUB_EVENT_NAME=pull_request")
	for _, k := range sortedStringKeys(env) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			return string(out), 0, err
		}
		code = ee.ExitCode()
	}
	if s.ID != "" {
		c.outputs[s.ID] = readOutputs(output)
	}
	return string(out), code, nil
}

// readOutputs reads a GITHUB_OUTPUT file: name=value lines, and
// name<<DELIMITER blocks for values of several lines.
func readOutputs(file string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(file)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if k, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(k, "=") {
			var vals []string
			for sc.Scan() && sc.Text() != delim {
				vals = append(vals, sc.Text())
			}
			out[k] = strings.Join(vals, "\n")
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}

// action does what a uses: step would do here (ciActions), and says what
// it did.
func (fx *ciFixture) action(c *ciContext, s ciStep, artifacts string) (string, error) {
	name, _, _ := strings.Cut(s.Uses, "@")
	what, ok := ciActions[name]
	if !ok {
		return "", fmt.Errorf("TestCIDoc does not know this action: add it to ciActions")
	}
	if what == "nothing" {
		return "nothing to do here", nil
	}
	return fx.act(c, what, s, artifacts)
}

// act does one behaviour of ciActions (file:INPUT, upload, download) for
// step s, and says what it did.
func (fx *ciFixture) act(c *ciContext, what string, s ciStep, artifacts string) (string, error) {
	with := map[string]string{}
	for k, v := range s.With {
		r, err := c.resolve(v)
		if err != nil {
			return "", fmt.Errorf("with %s: %w", k, err)
		}
		with[k] = r
	}
	switch {
	case strings.HasPrefix(what, "file:"):
		in := strings.TrimPrefix(what, "file:")
		p := with[in]
		if p == "" {
			return "", fmt.Errorf("no with: %s", in)
		}
		st, err := os.Stat(filepath.Join(c.work, p))
		if err != nil {
			return "", fmt.Errorf("with %s: the file it posts: %w", in, err)
		}
		if st.Size() == 0 {
			return "", fmt.Errorf("with %s: %s is empty", in, p)
		}
		return p + " exists, as the step posts it", nil
	case what == "upload":
		n := with["name"]
		if n == "" {
			n = "artifact"
		}
		var copied int
		for _, p := range strings.Fields(with["path"]) {
			ms, _ := filepath.Glob(filepath.Join(c.work, p))
			for _, m := range ms {
				st, err := os.Stat(m)
				if err != nil {
					return "", err
				}
				to := filepath.Join(artifacts, n)
				if !st.IsDir() {
					to = filepath.Join(to, filepath.Base(m))
				}
				if err := copyTree(m, to); err != nil {
					return "", err
				}
				copied++
			}
		}
		if copied == 0 {
			return "", fmt.Errorf("path %q matches no file", with["path"])
		}
		return fmt.Sprintf("uploaded %d paths as artifact %s", copied, n), nil
	case what == "download":
		dest := filepath.Join(c.work, with["path"])
		entries, err := os.ReadDir(artifacts)
		if err != nil {
			return "", err
		}
		var found int
		for _, e := range entries {
			match := with["name"] == "" && with["pattern"] == ""
			if with["name"] != "" {
				match = e.Name() == with["name"]
			} else if with["pattern"] != "" {
				match, _ = filepath.Match(with["pattern"], e.Name())
			}
			if !match {
				continue
			}
			to := dest
			// GitHub puts each artifact in a folder of its name unless one
			// is named or merge-multiple is set.
			if with["name"] == "" && with["merge-multiple"] != "true" {
				to = filepath.Join(dest, e.Name())
			}
			if err := copyTree(filepath.Join(artifacts, e.Name()), to); err != nil {
				return "", err
			}
			found++
		}
		if found == 0 {
			return "", fmt.Errorf("no artifact matches name %q, pattern %q", with["name"], with["pattern"])
		}
		return fmt.Sprintf("downloaded %d artifacts", found), nil
	}
	return "", fmt.Errorf("ciActions: unknown behaviour %q", what)
}

// copyTree copies a file or a directory's contents to to.
func copyTree(from, to string) error {
	st, err := os.Stat(from)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		b, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	}
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		return copyTree(p, filepath.Join(to, rel))
	})
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// TestCIDocExtractor: the extractor finds what a sharded workflow and a
// shell block would add to docs/ci.md — a matrix job expanded per shard,
// a merge job after it (needs:), the expressions of a shard's command —
// and refuses what it cannot run instead of skipping it.
func TestCIDocExtractor(t *testing.T) {
	doc := "# CI\n\n```yaml\nname: sharded\non: pull_request\njobs:\n" +
		"  merge:\n    needs: shard\n    runs-on: ubuntu-latest\n    steps:\n" +
		"      - uses: actions/download-artifact@v4\n        with: {pattern: 'shard-*', merge-multiple: true}\n" +
		"      - run: ./katonic diff --merge shards/ -o markdown\n" +
		"  shard:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n        shard: [1, 2, 3]\n    steps:\n" +
		"      - name: Diff a shard\n        run: ./katonic diff --shard ${{ matrix.shard }}/${{ strategy.job-total }} --base origin/${{ github.base_ref }}\n" +
		"      - run: echo no katonic here\n" +
		"```\n\n```sh\n./katonic render --check\n```\n\n```sh\necho nothing\n```\n"
	blocks := ciBlocks(t, doc)
	if len(blocks) != 2 || !blocks[0].workflow || blocks[1].workflow {
		t.Fatalf("want a workflow and one shell block, got %d blocks", len(blocks))
	}
	var names []string
	for _, j := range blocks[0].jobs {
		names = append(names, j.name)
	}
	want := []string{"job shard (shard=1)", "job shard (shard=2)", "job shard (shard=3)", "job merge"}
	if !slices.Equal(names, want) {
		t.Fatalf("jobs %q, want %q", names, want)
	}
	j := blocks[0].jobs[1]
	c := &ciContext{job: j}
	got, err := c.resolve(j.steps[0].Run)
	if err != nil || got != "./katonic diff --shard 2/3 --base origin/main" {
		t.Errorf("resolved %q, %v", got, err)
	}
	if j.steps[0].line != 20 {
		t.Errorf("the shard step is at line %d of the document, want 20", j.steps[0].line)
	}
	if _, err := c.resolve("${{ secrets.TOKEN }}"); err == nil || !strings.Contains(err.Error(), "cannot resolve ${{ secrets.TOKEN }}") {
		t.Errorf("an unknown expression: %v", err)
	}
	if s := blocks[1].jobs[0].steps[0]; s.Shell != "sh" || !strings.Contains(s.Run, "render --check") || s.line != 26 {
		t.Errorf("shell block step %+v", s)
	}
	fx := &ciFixture{}
	if _, err := fx.action(c, ciStep{Uses: "someone/new-action@v1"}, t.TempDir()); err == nil {
		t.Error("an unknown action must be an error")
	}
}
