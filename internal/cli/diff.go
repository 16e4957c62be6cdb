package cli

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diff"
	"github.com/katonic/katonic/internal/outdir"
	"github.com/katonic/katonic/internal/rendercache"
)

type diffOptions struct {
	base     string
	from, to string
	format   string
	failOn   string
	limit    int
	color    string
	noCache  bool
	// sameKatonic compares two renders of this katonic (--same-katonic).
	sameKatonic bool
	// shard is --shard K/N; merge reads the arguments as shard reports.
	shard string
	merge bool
}

func newDiffCmd(stdout, stderr io.Writer) *cobra.Command {
	var o diffOptions
	cmd := &cobra.Command{
		Use: "diff [ENV...] (--base REV [--same-katonic] | --from DIR --to DIR) [--shard K/N]",
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if o.merge {
				return []string{"json"}, cobra.ShellCompDirectiveFilterFileExt // report files
			}
			return completeEnvs(cmd, args, toComplete)
		},
		Short: "Show what a change does to the rendered output, object by object, with its risks",
		Long: `diff compares two renders object by object, keyed by environment, apiVersion,
kind, namespace and name, and lists field-level changes with their risks.

With --base REV it shows what the cluster gets: the rendered output
committed at git revision REV (the files its out/.katonic-generated lists,
read with 'git archive': your checkout and its .git are never touched)
against the working tree rendered in memory by this katonic. So a change of
katonic itself (new chart values, say) shows, though no environment file
changed. To tell such changes apart, the configuration at REV is rendered by
this katonic too: an object it already renders as the working tree's is
marked (katonic), its change comes from katonic, not from the configuration;
(katonic and configuration) marks an object with both causes; the summary
counts them. kustomize files are marked alike, and so is an environment
added or removed (a stale one left in REV's out/ is katonic's). Node-pool
and load-balancer risks compare the configurations at REV and in the
working tree.
If REV has no committed out/.katonic-generated, the configuration at REV
rendered by this katonic stands in for it, as with --same-katonic (said on
stderr and in the report). If the configuration at REV does not render with
this katonic, the committed output is still compared, but changes are not
attributed and node pools are not compared (said on stderr and in the
report).

With --base REV --same-katonic both sides are rendered by this katonic: the
configuration at REV and the working tree, each in isolation. That is what
the configuration change alone does, whatever katonic rendered REV's out/.

Environments this katonic rendered before with the same inputs come from the
render cache, as with render (--no-cache renders everything).
With --from DIR --to DIR it compares two rendered output directories.

For a fleet that outgrows one CI runner, --shard K/N compares only shard K
of N of the environments (the split of render --shard: a stable hash of the
name; an environment removed since REV falls in one shard too). Write each
shard's report with -o json; --merge then reads the N reports (the
arguments, not environment names) and writes them as one, in any format, as
one diff of the whole fleet would have. It refuses reports of different
diffs (base, mode), a shard given twice and a missing shard.

Risks, flagged in every format (high unless said):
  environment   an environment removed: one risk, for Flux loses the path
                clusters/ENV/ and what its Kustomizations applied; one
                added (medium)
  deleted       an object or namespace deleted, or a kustomization.yaml
                resources entry dropped while its file stays
  prune         a Flux Kustomization's prune changed
  chart-major   a chart's major version changed (versions, tags, semver
                ranges that admit a new major)
  source-major  the same for a GitRepository (Kubeflow Pipelines) or an
                OCIRepository of manifests
  crds          a chart that ships CRDs changes version and they move from
                crds/ to templates, or stay un-upgraded (spec.upgrade.crds
                Skip or Create); medium when Helm or Flux replaces them
  storage       a volume shrunk, a storage class changed, persistence off,
                a StorageClass's immutable fields; a volume grown (medium)
  node-pool     a node pool removed, shrunk, or its labels or taints changed
                (--base only); pods placed on a pool they cannot run on;
                other placement changes (medium)
  exposure      an internal load balancer made external or back; a new
                public host (medium)
  dns           a DNS host changed
  tls           TLS removed
  secret-ref    a Secret reference changed (medium; values are never shown)

An added or removed environment's objects are counted by kind in text
(-o json lists each). kustomization.yaml files are not objects: only their
changes that the objects do not show are listed, as kustomize files.

Formats (-o): text (colour on a terminal unless NO_COLOR is set), markdown
(for a pull-request comment: an environments × services matrix first, details
collapsed, kept under 65,536 characters) and json (schemaVersion 1; "mode"
names the sides, each object's "origin" its cause).

Exit codes: 0 no changes, 3 changes (from katonic or the configuration alike),
8 changes at or above --fail-on, 1 when the working tree does not render
(or, with --same-katonic, the configuration at REV) or REV's committed
out/.katonic-generated is malformed, 2 for a REV that is not a commit.`,
		Example: `  # What does my branch change in the clusters, compared with main?
  katonic diff --base main

  # What does the configuration change alone do (both sides rendered by this katonic)?
  katonic diff --base main --same-katonic

  # The pull-request comment
  katonic diff --base origin/main -o markdown > diff.md

  # Fail CI on high-risk changes
  katonic diff --base origin/main --fail-on high

  # Compare two rendered trees
  katonic diff --from /tmp/old/out --to out

  # One CI job per shard, then one comment
  katonic diff --base origin/main --shard 2/4 -o json > diff-2.json
  katonic diff --merge diff-*.json -o markdown > diff.md`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(stdout, stderr, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.base, "base", "", "git `revision` whose committed out/ to compare the working tree's render with")
	f.StringVar(&o.from, "from", "", "rendered output `directory` before the change")
	f.StringVar(&o.to, "to", "", "rendered output `directory` after the change")
	f.StringVarP(&o.format, "output", "o", "text", "output `format`: text, markdown or json")
	_ = cmd.RegisterFlagCompletionFunc("output", completeWords("text", "markdown", "json"))
	f.StringVar(&o.failOn, "fail-on", "none", "exit 8 when a change has this risk `level` or higher: high, medium or none")
	_ = cmd.RegisterFlagCompletionFunc("fail-on", completeWords("high", "medium", "none"))
	f.IntVar(&o.limit, "limit", 65536, "markdown: the most `characters` to print (GitHub's comment limit)")
	f.StringVar(&o.color, "color", "auto", "text: colour `when`: auto, always or never")
	f.BoolVar(&o.noCache, "no-cache", false, "--base: render every side, ignoring the render cache ($KATONIC_RENDER_CACHE_DIR or the user cache directory)")
	f.BoolVar(&o.sameKatonic, "same-katonic", false, "--base: compare the configuration at REV rendered by this katonic, not its committed out/, to isolate what the configuration change does")
	f.StringVar(&o.shard, "shard", "", "compare only shard `K/N` of the environments (as render --shard); merge the shards' -o json reports with --merge")
	f.BoolVar(&o.merge, "merge", false, "the arguments are the -o json reports of the shards of one diff: write them as one report")
	_ = cmd.RegisterFlagCompletionFunc("color", completeWords("auto", "always", "never"))
	markPaths(cmd, "from", "to")
	cmd.Annotations = map[string]string{pathArgsWith: "merge"}
	return cmd
}

func runDiff(stdout, stderr io.Writer, o diffOptions, envs []string) error {
	switch o.format {
	case "text", "markdown", "json":
	default:
		return exitf(ExitUsage, "-o %s: want text, markdown or json", o.format)
	}
	switch o.color {
	case "auto", "always", "never":
	default:
		return exitf(ExitUsage, "--color %s: want auto, always or never", o.color)
	}
	switch o.failOn {
	case "none", "high", "medium":
	default:
		return exitf(ExitUsage, "--fail-on %s: want high, medium or none", o.failOn)
	}
	var shard compile.Shard
	if o.shard != "" {
		var err error
		if shard, err = compile.ParseShard(o.shard); err != nil {
			return exitf(ExitUsage, "--shard: %v", err)
		}
	}
	if o.merge {
		if o.base != "" || o.from != "" || o.to != "" || o.sameKatonic || o.shard != "" || o.noCache {
			return exitf(ExitUsage, "--merge reads reports: it takes no --base, --from, --to, --same-katonic, --shard or --no-cache")
		}
		rep, err := mergeReports(envs)
		if err != nil {
			return err
		}
		return writeReport(stdout, stderr, o, rep)
	}
	var sides diffSides
	switch {
	case o.base != "" && (o.from != "" || o.to != ""):
		return exitf(ExitUsage, "--base and --from/--to exclude each other")
	case o.sameKatonic && o.base == "":
		return exitf(ExitUsage, "--same-katonic goes with --base REV")
	case o.base != "":
		var err error
		if sides, err = baseSides(stderr, o.base, renderCache(o.noCache), o.sameKatonic, shard); err != nil {
			return err
		}
	case o.from != "" && o.to != "":
		var err error
		sides.mode, sides.base, sides.head = diff.ModeDirectories, o.from, o.to
		if sides.from.Files, err = readTree(o.from); err != nil {
			return exitf(ExitUsage, "--from: %v", err)
		}
		if sides.to.Files, err = readTree(o.to); err != nil {
			return exitf(ExitUsage, "--to: %v", err)
		}
		sides.from, sides.to = keepEnvs(sides.from, shard.Has), keepEnvs(sides.to, shard.Has)
	default:
		return exitf(ExitUsage, "give --base REV, or --from DIR and --to DIR")
	}
	if len(envs) > 0 {
		sides.from, sides.to = onlyEnvs(sides.from, envs), onlyEnvs(sides.to, envs)
		if sides.rendered != nil {
			r := onlyEnvs(*sides.rendered, envs)
			sides.rendered = &r
		}
	}
	rep, err := diff.Compare(sides.from, sides.to, diff.Options{OldRendered: sides.rendered})
	if err != nil {
		return exitf(ExitInvalid, "%v", err)
	}
	rep.Mode, rep.Base, rep.Head, rep.Note = sides.mode, sides.base, sides.head, sides.note
	rep.Shard = shard.String()
	if sides.unattributed {
		rep.Attribution = diff.AttributionUnavailable
	}
	return writeReport(stdout, stderr, o, rep)
}

// writeReport writes rep in the format of o, its summary on stderr for the
// formats that do not end with it, and returns the exit status: nil
// without changes, ExitRisk for a change at or above o.failOn, else
// ExitOutOfDate.
func writeReport(stdout, stderr io.Writer, o diffOptions, rep *diff.Report) error {
	var err error
	switch o.format {
	case "json":
		err = rep.WriteJSON(stdout)
	case "markdown":
		err = rep.WriteMarkdown(stdout, o.limit)
	default:
		err = rep.WriteText(stdout, useColor(o.color, stdout))
	}
	if err != nil {
		return exitf(ExitOutput, "%v", err)
	}
	nEnvs, nObjs, high, medium := rep.Counts()
	if o.format != "text" {
		// The text report ends with this summary; the others are for
		// machines and comments, so people get it on stderr.
		what := fmt.Sprintf("%d %s", nObjs, plural(nObjs, "object"))
		if n := rep.FileCount(); n > 0 {
			what += fmt.Sprintf(" and %d %s", n, plural(n, "kustomization file"))
		}
		fmt.Fprintf(stderr, "%s changed in %d %s: %d high-risk, %d medium-risk%s\n",
			what, nEnvs, plural(nEnvs, "environment"), high, medium, katonicCount(rep))
	}
	if nObjs == 0 && nEnvs == 0 {
		return nil
	}
	if (o.failOn == "high" && high > 0) || (o.failOn == "medium" && high+medium > 0) {
		return exitf(ExitRisk, "changes at or above risk %s", o.failOn)
	}
	return &exitError{code: ExitOutOfDate}
}

// diffSides are the two sides of a diff, what they are, and, in the
// default mode of --base, the base's configuration rendered by this
// katonic, to attribute each change.
type diffSides struct {
	from, to diff.Side
	// rendered is the configuration at the base revision rendered by this
	// katonic, when the old side is the committed out/ and it renders.
	rendered *diff.Side
	// mode, base, head and note are the report's (diff.Report).
	mode, base, head, note string
	// unattributed is set when the changes cannot be attributed: the
	// configuration at the base does not render with this katonic.
	unattributed bool
}

// baseSides returns the sides of `katonic diff --base rev`. The new side is
// always the working tree rendered by this katonic. The old side is, by
// default, the rendered output committed at rev (the files its
// out/.katonic-generated lists, with the bytes committed: what the cluster
// runs), with the configuration at rev rendered by this katonic beside it,
// for the environments' node pools and load balancers and to attribute
// each change; with sameKatonic, or when rev has no committed manifest (said
// on stderr and in the report's note), it is that render itself. When the
// configuration at rev does not render with this katonic, the default mode
// still compares the committed output and says, on stderr and in the note,
// that changes are not attributed; with sameKatonic that is an error.
// Every side holds only the environments of shard (all with the zero
// Shard), the committed output's files included.
//
// With a cache (nil: none), a render comes from it when `katonic render`
// or an earlier diff rendered the same inputs with this katonic, and an
// environment whose inputs are the same at rev as in the working tree is
// rendered once: the work tree goes first, and the base takes those
// environments from the entries it stored.
func baseSides(stderr io.Writer, rev string, cache *rendercache.Cache, sameKatonic bool, shard compile.Shard) (diffSides, error) {
	ds := diffSides{mode: diff.ModeCommitted, base: rev}
	if sameKatonic {
		ds.mode = diff.ModeSameKatonic
	}
	// A revision that is not a commit is a usage error before the working
	// tree is rendered (seconds on a fleet). The working directory is the
	// repository's root by now (toRepositoryRoot), the one gitExport reads.
	if err := verifyCommit(".", rev); err != nil {
		return ds, exitf(ExitUsage, "--base %s: %v", rev, err)
	}
	work, err := compile.Compile(compile.Options{Render: true, Cache: cache, Shard: shard})
	if err := report(stderr, work, err); err != nil {
		return ds, err
	}
	// Only the files and the resolved environments are kept: the rest of
	// the result (the CUE values) is garbage before the base is compiled.
	ds.to = side(work)
	repo := work.Dir
	dir, err := os.MkdirTemp("", "katonic-diff-")
	if err != nil {
		return ds, exitf(ExitOutput, "%v", err)
	}
	defer os.RemoveAll(dir)
	sub, out, err := gitExport(repo, rev, dir, !sameKatonic)
	if err != nil {
		return ds, exitf(ExitUsage, "--base %s: %v", rev, err)
	}
	var committed diff.Side
	if !sameKatonic {
		manifest, ok := out[outdir.ManifestName]
		if !ok {
			ds.mode = diff.ModeSameKatonic
			ds.note = fmt.Sprintf("%s has no committed out/%s, so the configuration at %s rendered by this katonic stands for it, as with --same-katonic", rev, outdir.ManifestName, rev)
			fmt.Fprintf(stderr, "katonic: %s\n", ds.note)
		} else {
			entries, err := outdir.ParseManifest(manifest)
			if err != nil {
				return ds, exitf(ExitInvalid, "--base %s: out/%v", rev, err)
			}
			committed.Files = map[string][]byte{}
			for p := range entries {
				b, ok := out[p]
				env, _ := envOf(p)
				if ok && shard.Has(env) {
					committed.Files[p] = b
				}
			}
		}
	}
	base, err := compile.Compile(compile.Options{Dir: sub, Render: true, Cache: cache, Shard: shard})
	if err != nil {
		var buf bytes.Buffer
		if base != nil {
			base.Diags.Print(&buf, sub)
		}
		msg := strings.TrimSpace(buf.String())
		if ds.mode == diff.ModeSameKatonic {
			return ds, exitf(ExitInvalid, "the configuration at %s does not render: %v\n%s", rev, err, msg)
		}
		// The committed output is still what the cluster gets: compare it,
		// and say what cannot be known without the base's render.
		ds.from, ds.unattributed = committed, true
		ds.note = fmt.Sprintf("the configuration at %s does not render with this katonic, so changes are not attributed to katonic or the configuration, and node pools and load balancers are not compared", rev)
		fmt.Fprintf(stderr, "katonic: %s: %v\n%s\n", ds.note, err, msg)
		return ds, nil
	}
	rendered := side(base)
	if ds.mode == diff.ModeSameKatonic {
		ds.from = rendered
		return ds, nil
	}
	committed.Envs = rendered.Envs
	ds.from, ds.rendered = committed, &rendered
	return ds, nil
}

// katonicCount is ", N from katonic itself" for the stderr summary when
// some changes of rep come from katonic alone, else "".
func katonicCount(rep *diff.Report) string {
	if k, _ := rep.Origins(); k > 0 {
		return fmt.Sprintf(", %d from katonic itself", k)
	}
	return ""
}

func side(res *compile.Result) diff.Side {
	s := diff.Side{Files: res.Files, Envs: map[string]*config.Environment{}}
	for _, e := range res.Envs {
		s.Envs[e.Env.Name] = e.Env
	}
	return s
}

// gitOutput runs git with args in dir and returns its standard output, or
// an error with git's own message.
func gitOutput(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(errb.String()); msg != "" {
			return nil, errors.New(msg)
		}
		return nil, err
	}
	return out, nil
}

// verifyCommit returns an error unless rev names a commit of the git
// repository holding dir: git's message when dir is in none, "not a commit
// in <dir>" otherwise.
func verifyCommit(dir, rev string) error {
	if _, err := gitOutput(dir, "rev-parse", "--show-toplevel"); err != nil {
		return err
	}
	if _, err := gitOutput(dir, "rev-parse", "--verify", "--quiet", rev+"^{commit}"); err != nil {
		if dir == "." {
			dir, _ = os.Getwd()
		}
		return fmt.Errorf("not a commit in %s", dir)
	}
	return nil
}

// gitExport writes the tree of rev into dir with `git archive` (nothing in
// the repository changes) and returns the directory that corresponds to the
// katonic repository root repo, which may be a subdirectory of the git
// repository: then only that subdirectory's tree is archived. The rendered
// output committed under out/ is not written there (the base is rendered
// again), but for clusters/<env>/flux-system/, which compile reads to know
// whether `flux bootstrap` has run. With withOut, the files committed under
// out/ are returned too, keyed by slash path relative to out/ (the
// manifest among them, as outdir.ManifestName); without, out is nil and
// out/environments/ is not even read.
func gitExport(repo, rev, dir string, withOut bool) (string, map[string][]byte, error) {
	git := func(args ...string) ([]byte, error) { return gitOutput(repo, args...) }
	top, err := git("rev-parse", "--show-toplevel")
	if err != nil {
		return "", nil, err
	}
	prefix, err := git("rev-parse", "--show-prefix")
	if err != nil {
		return "", nil, err
	}
	// rev:sub is the tree of the subdirectory, its paths relative to it;
	// git runs at the top, so the pathspecs are relative to that tree too.
	// out/environments/ is most of a rendered fleet: unless it is asked
	// for, git leaves it out of the stream; untar's filter has the last
	// word on the rest of out/.
	tree := rev + ":" + strings.TrimSuffix(strings.TrimSpace(string(prefix)), "/")
	args := []string{"archive", "--format=tar", tree, "--", "."}
	if !withOut {
		args = append(args, ":(exclude)out/environments")
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = strings.TrimSpace(string(top))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	tr, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	var out map[string][]byte
	var other func(name string, b []byte)
	if withOut {
		out = map[string][]byte{}
		other = func(name string, b []byte) {
			if rel, ok := strings.CutPrefix(name, "out/"); ok {
				out[rel] = b
			}
		}
	}
	err = untar(tr, dir, func(name string) bool { return !renderedOutput(name) }, other)
	if err != nil {
		_, _ = io.Copy(io.Discard, tr) // let git finish before Wait
	}
	if werr := cmd.Wait(); werr != nil && err == nil {
		err = werr
		if msg := strings.TrimSpace(errb.String()); msg != "" {
			err = errors.New(msg)
		}
	}
	if err != nil {
		return "", nil, err
	}
	return dir, out, nil
}

// renderedOutput reports whether the archive path name, relative to the
// katonic root, is in the output directory out/ and not under
// clusters/<env>/flux-system/ there.
func renderedOutput(name string) bool {
	rel, ok := strings.CutPrefix(name, "out/")
	if !ok {
		return false
	}
	parts := strings.Split(rel, "/")
	return len(parts) < 3 || parts[0] != "clusters" || parts[2] != "flux-system"
}

// untar extracts the regular files and directories of a tar stream for
// which keep is true under dir, refusing paths that leave it; links are
// skipped. The regular files keep refuses go to other with their content,
// when other is not nil.
func untar(r io.Reader, dir string, keep func(name string) bool, other func(name string, b []byte)) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.FromSlash(strings.TrimSuffix(h.Name, "/"))
		if name == "" || name == "." {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("archive path %q leaves the directory", h.Name)
		}
		if !keep(h.Name) {
			if other != nil && h.Typeflag == tar.TypeReg {
				b, err := io.ReadAll(tr)
				if err != nil {
					return err
				}
				other(h.Name, b)
			}
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := root.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				return err
			}
			f, err := root.Create(name)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

// readTree reads a rendered output directory: every regular file but the
// ownership manifest, keyed by slash path.
func readTree(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == outdir.ManifestName {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[rel] = b
		return nil
	})
	return files, err
}

// onlyEnvs keeps the files and environments of the named environments.
func onlyEnvs(s diff.Side, names []string) diff.Side {
	return keepEnvs(s, func(env string) bool { return slices.Contains(names, env) })
}

// keepEnvs keeps the files (clusters/<env>/..., environments/<env>/...) and
// resolved environments of the environments for which keep is true; other
// files of the side, which belong to no environment, are dropped.
func keepEnvs(s diff.Side, keep func(env string) bool) diff.Side {
	out := diff.Side{Files: map[string][]byte{}}
	for p, b := range s.Files {
		if env, ok := envOf(p); ok && keep(env) {
			out.Files[p] = b
		}
	}
	if s.Envs != nil {
		out.Envs = map[string]*config.Environment{}
		for n, e := range s.Envs {
			if keep(n) {
				out.Envs[n] = e
			}
		}
	}
	return out
}

// mergeReports reads the JSON reports of the shards of one diff, in the
// files named, and merges them (diff.Merge). A file that cannot be read is
// a usage error, as is a set of reports that are not the shards of one
// diff.
func mergeReports(files []string) (*diff.Report, error) {
	if len(files) == 0 {
		return nil, exitf(ExitUsage, "--merge: give the JSON reports of the shards (katonic diff --shard K/N -o json)")
	}
	var reps []*diff.Report
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, exitf(ExitUsage, "--merge: %v", err)
		}
		r, err := diff.ReadJSON(bytes.NewReader(b))
		if err != nil {
			return nil, exitf(ExitUsage, "--merge: %s: %v", f, err)
		}
		reps = append(reps, r)
	}
	rep, err := diff.Merge(reps)
	if err != nil {
		return nil, exitf(ExitUsage, "--merge: %v", err)
	}
	return rep, nil
}

// useColor decides whether text output is coloured: per --color always or
// never; with auto, only on a terminal and never when NO_COLOR is set
// (https://no-color.org).
func useColor(when string, w io.Writer) bool {
	switch when {
	case "always":
		return true
	case "never":
		return false
	}
	return os.Getenv("NO_COLOR") == "" && isTerminal(w)
}
