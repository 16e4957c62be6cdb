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
}

func newDiffCmd(stdout, stderr io.Writer) *cobra.Command {
	var o diffOptions
	cmd := &cobra.Command{
		Use:               "diff [ENV...] (--base REV | --from DIR --to DIR)",
		ValidArgsFunction: completeEnvs,
		Short:             "Show what a change does to the rendered output, object by object, with its risks",
		Long: `diff compares two renders object by object, keyed by environment, apiVersion,
kind, namespace and name, and lists field-level changes with their risks.

With --base REV it renders the configuration at git revision REV (extracted
with 'git archive' into a temporary directory: your checkout and its .git are
never touched) and the working tree, each in isolation, with this katonic;
environments this katonic rendered before with the same inputs come from the
render cache, as with render (--no-cache renders everything).
With --from DIR --to DIR it compares two rendered output directories.

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
collapsed, kept under 65,536 characters) and json (schemaVersion 1).

Exit codes: 0 no changes, 3 changes, 8 changes at or above --fail-on.`,
		Example: `  # What does my branch change, compared with main?
  katonic diff --base main

  # The pull-request comment
  katonic diff --base origin/main -o markdown > diff.md

  # Fail CI on high-risk changes
  katonic diff --base origin/main --fail-on high

  # Compare two rendered trees
  katonic diff --from /tmp/old/out --to out`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(stdout, stderr, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.base, "base", "", "git `revision` to compare the working tree with")
	f.StringVar(&o.from, "from", "", "rendered output `directory` before the change")
	f.StringVar(&o.to, "to", "", "rendered output `directory` after the change")
	f.StringVarP(&o.format, "output", "o", "text", "output `format`: text, markdown or json")
	_ = cmd.RegisterFlagCompletionFunc("output", completeWords("text", "markdown", "json"))
	f.StringVar(&o.failOn, "fail-on", "none", "exit 8 when a change has this risk `level` or higher: high, medium or none")
	_ = cmd.RegisterFlagCompletionFunc("fail-on", completeWords("high", "medium", "none"))
	f.IntVar(&o.limit, "limit", 65536, "markdown: the most `characters` to print (GitHub's comment limit)")
	f.StringVar(&o.color, "color", "auto", "text: colour `when`: auto, always or never")
	f.BoolVar(&o.noCache, "no-cache", false, "--base: render both sides, ignoring the render cache ($KATONIC_RENDER_CACHE_DIR or the user cache directory)")
	_ = cmd.RegisterFlagCompletionFunc("color", completeWords("auto", "always", "never"))
	markPaths(cmd, "from", "to")
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
	var from, to diff.Side
	switch {
	case o.base != "" && (o.from != "" || o.to != ""):
		return exitf(ExitUsage, "--base and --from/--to exclude each other")
	case o.base != "":
		var err error
		if from, to, err = baseSides(stderr, o.base, renderCache(o.noCache)); err != nil {
			return err
		}
	case o.from != "" && o.to != "":
		var err error
		if from.Files, err = readTree(o.from); err != nil {
			return exitf(ExitUsage, "--from: %v", err)
		}
		if to.Files, err = readTree(o.to); err != nil {
			return exitf(ExitUsage, "--to: %v", err)
		}
	default:
		return exitf(ExitUsage, "give --base REV, or --from DIR and --to DIR")
	}
	if len(envs) > 0 {
		from, to = onlyEnvs(from, envs), onlyEnvs(to, envs)
	}
	rep, err := diff.Compare(from, to, diff.Options{})
	if err != nil {
		return exitf(ExitInvalid, "%v", err)
	}
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
		fmt.Fprintf(stderr, "%d %s changed in %d %s: %d high-risk, %d medium-risk\n",
			nObjs, plural(nObjs, "object"), nEnvs, plural(nEnvs, "environment"), high, medium)
	}
	if nObjs == 0 && nEnvs == 0 {
		return nil
	}
	if (o.failOn == "high" && high > 0) || (o.failOn == "medium" && high+medium > 0) {
		return exitf(ExitRisk, "changes at or above risk %s", o.failOn)
	}
	return &exitError{code: ExitOutOfDate}
}

// baseSides renders the configuration at git revision rev and the working
// tree, each in isolation, and returns them as the two sides of a diff.
// With a cache (nil: none), either side comes from it when `katonic render`
// or an earlier diff rendered the same inputs with this katonic, and an
// environment whose inputs are the same at rev as in the working tree is
// rendered once: the work tree goes first, and the base takes those
// environments from the entries it stored.
func baseSides(stderr io.Writer, rev string, cache *rendercache.Cache) (diff.Side, diff.Side, error) {
	work, err := compile.Compile(compile.Options{Render: true, Cache: cache})
	if err := report(stderr, work, err); err != nil {
		return diff.Side{}, diff.Side{}, err
	}
	// Only the files and the resolved environments are kept: the rest of
	// the result (the CUE values) is garbage before the base is compiled.
	to, repo := side(work), work.Dir
	dir, err := os.MkdirTemp("", "katonic-diff-")
	if err != nil {
		return diff.Side{}, diff.Side{}, exitf(ExitOutput, "%v", err)
	}
	defer os.RemoveAll(dir)
	sub, err := gitExport(repo, rev, dir)
	if err != nil {
		return diff.Side{}, diff.Side{}, exitf(ExitUsage, "--base %s: %v", rev, err)
	}
	base, err := compile.Compile(compile.Options{Dir: sub, Render: true, Cache: cache})
	if err != nil {
		var buf bytes.Buffer
		if base != nil {
			base.Diags.Print(&buf, sub)
		}
		return diff.Side{}, diff.Side{}, exitf(ExitInvalid, "the configuration at %s does not render: %v\n%s", rev, err, strings.TrimSpace(buf.String()))
	}
	return side(base), to, nil
}

func side(res *compile.Result) diff.Side {
	s := diff.Side{Files: res.Files, Envs: map[string]*config.Environment{}}
	for _, e := range res.Envs {
		s.Envs[e.Env.Name] = e.Env
	}
	return s
}

// gitExport writes the tree of rev into dir with `git archive` (nothing in
// the repository changes) and returns the directory that corresponds to the
// katonic repository root repo, which may be a subdirectory of the git
// repository: then only that subdirectory's tree is archived. The rendered
// output committed under out/ is left out (the base is rendered again), but
// for clusters/<env>/flux-system/, which compile reads to know whether
// `flux bootstrap` has run.
func gitExport(repo, rev, dir string) (string, error) {
	git := func(args ...string) ([]byte, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
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
	top, err := git("rev-parse", "--show-toplevel")
	if err != nil {
		return "", err
	}
	prefix, err := git("rev-parse", "--show-prefix")
	if err != nil {
		return "", err
	}
	if _, err := git("rev-parse", "--verify", "--quiet", rev+"^{commit}"); err != nil {
		return "", fmt.Errorf("not a commit in %s", repo)
	}
	// rev:sub is the tree of the subdirectory, its paths relative to it;
	// git runs at the top, so the pathspecs are relative to that tree too.
	// out/environments/ is most of a rendered fleet: git leaves it out of
	// the stream; untar's filter has the last word on the rest of out/.
	tree := rev + ":" + strings.TrimSuffix(strings.TrimSpace(string(prefix)), "/")
	cmd := exec.Command("git", "archive", "--format=tar", tree, "--", ".", ":(exclude)out/environments")
	cmd.Dir = strings.TrimSpace(string(top))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	tr, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	err = untar(tr, dir, func(name string) bool { return !renderedOutput(name) })
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
		return "", err
	}
	return dir, nil
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
// skipped.
func untar(r io.Reader, dir string, keep func(name string) bool) error {
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
	out := diff.Side{Files: map[string][]byte{}, Envs: map[string]*config.Environment{}}
	for p, b := range s.Files {
		for _, n := range names {
			if strings.HasPrefix(p, "clusters/"+n+"/") || strings.HasPrefix(p, "environments/"+n+"/") {
				out.Files[p] = b
			}
		}
	}
	for _, n := range names {
		if e, ok := s.Envs[n]; ok {
			out.Envs[n] = e
		}
	}
	return out
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
