package diff

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/katonic/katonic/internal/config"
)

// SchemaVersion is the version of the JSON form written by Report.WriteJSON
// (documented in the package comment). It changes only when a field is
// removed or changes meaning.
const SchemaVersion = 1

// Change values of EnvDiff.Change and ObjectDiff.Change.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
)

// Change values of FieldChange.Change (dyff's ADDITION, REMOVAL,
// MODIFICATION and ORDERCHANGE).
const (
	FieldAdded    = "added"
	FieldRemoved  = "removed"
	FieldModified = "modified"
	FieldOrder    = "order"
)

// Risk levels.
const (
	LevelHigh   = "high"
	LevelMedium = "medium"
)

// Risk classes; the rules behind each are in the package comment.
const (
	ClassDeleted    = "deleted"
	ClassPrune      = "prune"
	ClassChartMajor = "chart-major"
	ClassNodePool   = "node-pool"
	ClassExposure   = "exposure"
	ClassDNS        = "dns"
	ClassTLS        = "tls"
	ClassSecretRef  = "secret-ref"
	// ClassEnvironment is an environment added or removed as a whole.
	ClassEnvironment = "environment"
	// ClassSourceMajor is a major version change of a GitRepository or of
	// an OCIRepository that serves no chart.
	ClassSourceMajor = "source-major"
	// ClassCRDs is a version change of a chart that ships CRDs.
	ClassCRDs = "crds"
	// ClassStorage is a volume size, storage class or persistence change.
	ClassStorage = "storage"
)

// Side is one rendered tree.
type Side struct {
	// Files are the rendered files keyed by slash path relative to the
	// output directory ("clusters/acme/platform.yaml",
	// "environments/acme/platform/postgres.yaml"), as compile.Result.Files.
	Files map[string][]byte
	// Envs are the resolved environments by name, optional: the node-pool,
	// load-balancer and public-host rules need them (those facts are not
	// visible in the objects). An environment missing here skips those rules.
	Envs map[string]*config.Environment
}

// Modes of Report.Mode: what the two sides of a report are.
const (
	// ModeCommitted: the old side is the rendered output committed at a
	// git revision (Report.Base), the new side the working tree rendered by
	// this katonic; what the cluster gets when the change is merged.
	ModeCommitted = "committed"
	// ModeSameKatonic: both sides are rendered by this katonic, the
	// configuration at a git revision (Report.Base) and the working tree;
	// what the configuration change alone does.
	ModeSameKatonic = "same-katonic"
	// ModeDirectories: two rendered output directories, Report.Base before
	// and Report.Head after.
	ModeDirectories = "directories"
)

// Values of Report.Attribution.
const (
	// AttributionDone: Compare was given Options.OldRendered: every
	// ObjectDiff and FileDiff has an Origin, and so has every added or
	// removed EnvDiff.
	AttributionDone = "done"
	// AttributionUnavailable: the changes could not be attributed (the
	// old configuration does not render with this katonic); Report.Note
	// says why. Set by the caller.
	AttributionUnavailable = "unavailable"
)

// Values of ObjectDiff.Origin, FileDiff.Origin and EnvDiff.Origin: why an
// object, a kustomization file or a whole environment changed, when the
// old side is a rendered output that this katonic may render differently
// (ModeCommitted).
const (
	// OriginKatonic: the configuration did not change the object: this
	// katonic renders the old configuration's object exactly as the new
	// one's. The old output was rendered by another katonic (or edited).
	OriginKatonic = "katonic"
	// OriginConfiguration: this katonic renders the old configuration's
	// object exactly as the old side has it: the configuration changed it.
	OriginConfiguration = "configuration"
	// OriginBoth: neither holds; the configuration changed the object,
	// and this katonic would also render the old one differently.
	OriginBoth = "both"
)

// Options tune Compare; the zero value is the default.
type Options struct {
	// OldRendered, when not nil, is the old side's configuration rendered
	// by this katonic (the "from" side being, say, the output committed at
	// a revision, rendered by whatever katonic ran then). Compare then sets
	// every ObjectDiff's and FileDiff's Origin (OriginKatonic,
	// OriginConfiguration or OriginBoth), an added or removed EnvDiff's,
	// and the Report's Attribution (see the package comment).
	OldRendered *Side
}

// Report is the result of Compare.
type Report struct {
	// SchemaVersion is SchemaVersion, for the JSON form.
	SchemaVersion int `json:"schemaVersion"`
	// Mode names the sides (ModeCommitted, ModeSameKatonic,
	// ModeDirectories); "" when the caller did not say. Compare leaves it
	// and Base, Head and Note to the caller.
	Mode string `json:"mode,omitempty"`
	// Base is the old side: the git revision as given (ModeCommitted,
	// ModeSameKatonic) or the directory (ModeDirectories).
	Base string `json:"base,omitempty"`
	// Head is the new side's directory (ModeDirectories); "" for the
	// working tree rendered by this katonic.
	Head string `json:"head,omitempty"`
	// Attribution is AttributionDone when changes carry an Origin,
	// AttributionUnavailable when they could not, "" when not asked.
	Attribution string `json:"attribution,omitempty"`
	// Note is a sentence for people about how the sides were made, such
	// as why attribution is unavailable; "" when there is nothing to say.
	Note string `json:"note,omitempty"`
	// Shard is "K/N" when the report covers only shard K of N of the
	// environments (katonic diff --shard; Merge joins the shards); "" for
	// all of them.
	Shard string `json:"shard,omitempty"`
	// Envs are the environments with changes or risks, sorted by name;
	// never nil (an empty list when nothing changed).
	Envs []EnvDiff `json:"environments"`
}

// EnvDiff is what changed in one environment.
type EnvDiff struct {
	// Name is the environment's name (clusters/<name>/, environments/<name>/).
	Name string `json:"name"`
	// Change is "added" (no object before), "removed" (no object after) or "changed".
	Change string `json:"change"`
	// Origin is why an added or removed environment is (OriginKatonic:
	// this katonic renders the old configuration with the environment as
	// the new side has it, present or not; OriginConfiguration otherwise)
	// when Compare was given Options.OldRendered; "" for a changed one,
	// whose objects and files carry their own.
	Origin string `json:"origin,omitempty"`
	// Risks are the environment-level risks (environment, node-pool,
	// exposure), sorted.
	Risks []Risk `json:"risks,omitempty"`
	// Objects are the added, removed and changed objects, sorted by file,
	// apiVersion, kind, namespace and name. An added or removed
	// environment lists every object of it, without per-object deleted
	// risks (its environment risk stands for them).
	Objects []ObjectDiff `json:"objects,omitempty"`
	// Files are the changes of kustomize's configuration files
	// (kustomization.yaml) that the object changes do not already show,
	// sorted by file; never for an added or removed environment.
	Files []FileDiff `json:"files,omitempty"`
}

// FileDiff is a change of one kustomize configuration file
// (kustomization.yaml): not an object of the cluster, but it decides which
// files Flux applies.
type FileDiff struct {
	// File is the file's path in the output tree.
	File string `json:"file"`
	// Change is "added", "removed" or "changed".
	Change string `json:"change"`
	// Fields are its field-level changes (changed files only).
	Fields []FieldChange `json:"fields,omitempty"`
	// Risks are the file's risks, sorted.
	Risks []Risk `json:"risks,omitempty"`
	// Origin is why the file changed (OriginKatonic, OriginConfiguration,
	// OriginBoth: the object's rules, applied to the whole file) when
	// Compare was given Options.OldRendered; "" otherwise.
	Origin string `json:"origin,omitempty"`
}

// ObjectDiff is one added, removed or changed object.
type ObjectDiff struct {
	// Env is the environment, from the file's path.
	Env string `json:"environment"`
	// Service is the matrix column: "flux", "infrastructure" or the file
	// name without extension (see the package comment).
	Service string `json:"service"`
	// APIVersion, Kind, Namespace ("" when cluster-scoped) and Name identify
	// the object.
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// File is the object's file in the new tree (in the old one when removed).
	File string `json:"file"`
	// Change is "added", "removed" or "changed".
	Change string `json:"change"`
	// Fields are the field-level changes of a changed object, in document
	// order; nil for added and removed objects.
	Fields []FieldChange `json:"fields,omitempty"`
	// Risks are the object's risks, sorted.
	Risks []Risk `json:"risks,omitempty"`
	// Origin is why the object changed (OriginKatonic,
	// OriginConfiguration, OriginBoth) when Compare was given
	// Options.OldRendered; "" otherwise.
	Origin string `json:"origin,omitempty"`
}

// FieldChange is one field-level change inside an object.
type FieldChange struct {
	// Path is the field's path, e.g. spec.values.primary.nodeSelector (see
	// the package comment for lists and quoted keys).
	Path string `json:"path"`
	// Change is "added", "removed", "modified" or "order".
	Change string `json:"change"`
	// Old and New are one-line YAML renderings (flow style) of the values;
	// empty when absent, and always empty when Redacted.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// Redacted is set when the value is under a Secret reference or is a
	// Secret's data: Old and New are then empty and outputs print "changed".
	Redacted bool `json:"redacted,omitempty"`
}

// Risk is one classified risk.
type Risk struct {
	// Class is one of the Class* constants.
	Class string `json:"class"`
	// Level is "high" or "medium".
	Level string `json:"level"`
	// Message says what changed and why it matters; it never carries a
	// value under a Secret reference.
	Message string `json:"message"`
}

// Compare compares two rendered trees and classifies the risk of each change
// (rules in the package comment). Objects are paired by (environment,
// apiVersion, kind, namespace, name). It returns an error when a file under
// clusters/ or environments/ is not valid YAML, holds a document that is not
// a Kubernetes object, or when one side defines an object twice, or when
// dyff fails on a pair. With opts.OldRendered, its files are read too,
// with the same errors (named "old rendered tree"), and the Origin of each
// ObjectDiff, FileDiff and added or removed EnvDiff is set.
//
// Compare works one environment at a time: it parses that environment's
// files on both sides (a file with the same name and bytes on both sides
// once), pairs and diffs its objects, keeps the EnvDiff and drops the
// documents, so the parsed YAML of at most GOMAXPROCS environments is held
// at once. Environments are compared on GOMAXPROCS goroutines and their
// results kept in name order, so the Report does not depend on it. When an
// environment fails, the error returned is the one a pass over the whole
// trees meets first: the old tree's before the new one's, files in name
// order, then dyff's, environments in name order.
func Compare(from, to Side, opts Options) (*Report, error) {
	oldFiles, newFiles := byEnv(sideFiles(from)), byEnv(sideFiles(to))
	names := unionKeys(oldFiles, newFiles)
	rep := &Report{SchemaVersion: SchemaVersion, Envs: []EnvDiff{}}
	var reb *rebuilt
	if opts.OldRendered != nil {
		reb = &rebuilt{side: *opts.OldRendered, files: byEnv(sideFiles(*opts.OldRendered))}
		rep.Attribution = AttributionDone
	}
	type result struct {
		ed   EnvDiff
		keep bool
		err  error
		done chan struct{}
	}
	results := make([]result, len(names))
	for i := range results {
		results[i].done = make(chan struct{})
	}
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(names)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(names) {
					return
				}
				r := &results[i]
				if !failed.Load() {
					env := names[i]
					r.ed, r.keep, r.err = compareFiles(env, from, to, oldFiles[env], newFiles[env], reb)
				}
				close(r.done)
			}
		}()
	}
	var err error
	for i := range results {
		r := &results[i]
		<-r.done
		if r.err != nil {
			err = r.err
			failed.Store(true)
			break
		}
		if r.keep {
			rep.Envs = append(rep.Envs, r.ed)
		}
		results[i] = result{}
	}
	wg.Wait()
	if err != nil {
		if e := checkSide(from, "old"); e != nil {
			return nil, e
		}
		if e := checkSide(to, "new"); e != nil {
			return nil, e
		}
		if reb != nil {
			if e := checkSide(reb.side, oldRenderedName); e != nil {
				return nil, e
			}
		}
		return nil, err
	}
	return rep, nil
}

// byEnv groups files by environment, keeping their order.
func byEnv(files []sideFile) map[string][]sideFile {
	out := map[string][]sideFile{}
	for _, f := range files {
		out[f.env] = append(out[f.env], f)
	}
	return out
}

// compareFiles parses the files of environment env on both sides (oldFiles
// of from, newFiles of to) and compares its objects; with reb, it reads
// that environment's files of the old configuration rendered by this
// katonic too, and sets each change's Origin. keep is false when the
// environment has nothing to report: no object on either side, or no
// change and no risk.
func compareFiles(env string, from, to Side, oldFiles, newFiles []sideFile, reb *rebuilt) (ed EnvDiff, keep bool, err error) {
	old, cur := newTree(), newTree()
	same := map[string][]*object{} // files with the same bytes on both sides
	// every file's objects, for reb; nil without it
	var oldParsed, newParsed map[string][]*object
	if reb != nil {
		oldParsed, newParsed = map[string][]*object{}, map[string][]*object{}
	}
	for _, f := range oldFiles {
		old.files[f.path] = true
	}
	for _, f := range newFiles {
		cur.files[f.path] = true
	}
	for _, f := range oldFiles {
		b := from.Files[f.name]
		objs, err := parseFile(f, b, "old")
		if err != nil {
			return ed, false, err
		}
		if oldParsed != nil {
			oldParsed[f.name] = objs
		}
		if nb, ok := to.Files[f.name]; ok && bytes.Equal(b, nb) {
			same[f.name] = objs
		}
		for _, o := range objs {
			if err := old.add(o, "old"); err != nil {
				return ed, false, err
			}
		}
	}
	for _, f := range newFiles {
		objs, ok := same[f.name]
		if !ok {
			if objs, err = parseFile(f, to.Files[f.name], "new"); err != nil {
				return ed, false, err
			}
		}
		if newParsed != nil {
			newParsed[f.name] = objs
		}
		for _, o := range objs {
			if err := cur.add(o, "new"); err != nil {
				return ed, false, err
			}
		}
	}
	if !old.envs[env] && !cur.envs[env] {
		return ed, false, nil
	}
	var rt *tree
	if reb != nil {
		if rt, err = reb.tree(env, from, to, oldParsed, newParsed); err != nil {
			return ed, false, err
		}
	}
	ed, err = compareEnv(env, old, cur, rt, from.Envs[env], to.Envs[env])
	return ed, err == nil && (len(ed.Objects) > 0 || len(ed.Risks) > 0 || len(ed.Files) > 0), err
}

// compareEnv compares the objects of one environment: old and cur hold
// that environment's objects only; rt, when not nil, its objects as this
// katonic renders the old configuration, for the Origin of the
// environment (added or removed), of each object and of each kustomization
// file.
func compareEnv(env string, old, cur, rt *tree, oldEnv, curEnv *config.Environment) (EnvDiff, error) {
	ed := EnvDiff{Name: env, Change: ChangeChanged}
	switch {
	case !old.envs[env] && cur.envs[env]:
		ed.Change = ChangeAdded
		ed.Risks = []Risk{envAddedRisk(env, cur)}
	case old.envs[env] && !cur.envs[env]:
		ed.Change = ChangeRemoved
		ed.Risks = []Risk{envRemovedRisk(env, old)}
	default:
		ed.Risks = envRisks(oldEnv, curEnv)
	}
	if rt != nil && ed.Change != ChangeChanged {
		ed.Origin = OriginConfiguration
		if rt.envs[env] == cur.envs[env] {
			ed.Origin = OriginKatonic
		}
	}
	envExposure := false
	for _, r := range ed.Risks {
		if r.Class == ClassExposure {
			envExposure = true
		}
	}
	rc := &riskContext{old: old, cur: cur, env: curEnv,
		external: curEnv != nil && curEnv.LoadBalancer == "external", objectExposure: !envExposure}

	keys := make([]objKey, 0, len(cur.objects))
	for k := range cur.objects {
		keys = append(keys, k)
	}
	for k := range old.objects {
		if cur.objects[k] == nil {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].less(keys[j]) })
	for _, k := range keys {
		a, b := old.objects[k], cur.objects[k]
		if a == b {
			continue // parsed once from a file the same on both sides
		}
		var od ObjectDiff
		switch {
		case a == nil:
			od = b.diff(ChangeAdded)
			od.Risks = addedRisks(b, rc.external)
		case b == nil:
			od = a.diff(ChangeRemoved)
			if ed.Change != ChangeRemoved {
				od.Risks = deletedRisks(a, cur.owner(a), old.owner(a))
			}
		default:
			changes, err := objectChanges(a, b)
			if err != nil {
				return ed, err
			}
			if len(changes) == 0 && a.file == b.file {
				continue
			}
			od = b.diff(ChangeChanged)
			if a.file != b.file {
				od.Fields = append(od.Fields, FieldChange{Path: "(file)", Change: FieldModified, Old: a.file, New: b.file})
			}
			od.Fields = append(od.Fields, fieldChanges(b, changes)...)
			od.Risks = changedRisks(rc, a, b, changes)
		}
		if rt != nil {
			o, err := origin(a, b, rt.objects[k])
			if err != nil {
				return ed, err
			}
			od.Origin = o
		}
		ed.Objects = append(ed.Objects, od)
	}
	sort.Slice(ed.Objects, func(i, j int) bool { return ed.Objects[i].less(ed.Objects[j]) })
	if ed.Change == ChangeChanged {
		files, err := compareKustomizeFiles(old, cur)
		if err != nil {
			return ed, err
		}
		if rt != nil {
			for i := range files {
				p := files[i].File
				if files[i].Origin, err = origin(old.kfiles[p], cur.kfiles[p], rt.kfiles[p]); err != nil {
					return ed, err
				}
			}
		}
		ed.Files = files
	}
	return ed, nil
}

// less orders objects by file, apiVersion, kind, namespace, name.
func (o ObjectDiff) less(p ObjectDiff) bool {
	a := [...]string{o.File, o.APIVersion, o.Kind, o.Namespace, o.Name}
	b := [...]string{p.File, p.APIVersion, p.Kind, p.Namespace, p.Name}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// Ref returns the object's short reference, Kind/namespace/name (Kind/name
// when cluster-scoped), as the outputs print it.
func (o ObjectDiff) Ref() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// Where returns where the object lives, relative to its environment: the
// file's layer and name without extension ("platform/postgres",
// "clusters/platform", "infrastructure/namespaces").
func (o ObjectDiff) Where() string {
	_, layer, stem, ok := classify(o.File)
	if !ok {
		return o.File
	}
	if layer == "" {
		return stem
	}
	return layer + "/" + stem
}

// Counts returns the number of environments and objects in r, and the
// number of high and medium risks, environment-level, object-level and
// kustomization-file-level together. Kustomization files are not objects:
// FileCount counts them.
func (r *Report) Counts() (envs, objects, high, medium int) {
	count := func(rs []Risk) {
		for _, x := range rs {
			switch x.Level {
			case LevelHigh:
				high++
			case LevelMedium:
				medium++
			}
		}
	}
	for _, e := range r.Envs {
		envs++
		objects += len(e.Objects)
		count(e.Risks)
		for _, o := range e.Objects {
			count(o.Risks)
		}
		for _, f := range e.Files {
			count(f.Risks)
		}
	}
	return envs, objects, high, medium
}

// FileCount returns the number of changed kustomization files in r.
func (r *Report) FileCount() int {
	n := 0
	for _, e := range r.Envs {
		n += len(e.Files)
	}
	return n
}

// Where returns where the file lives, relative to its environment:
// "platform/kustomization.yaml", "clusters/kustomization.yaml".
func (f FileDiff) Where() string {
	parts := strings.Split(f.File, "/")
	if len(parts) < 3 {
		return f.File
	}
	rest := strings.Join(parts[2:], "/")
	if parts[0] == "clusters" {
		return "clusters/" + rest
	}
	return rest
}

// Origins returns how many changes of r (objects and kustomization files,
// as Counts and FileCount count them) come from katonic alone
// (OriginKatonic) and from both katonic and the configuration
// (OriginBoth); both are 0 unless the changes were attributed.
func (r *Report) Origins() (katonic, both int) {
	count := func(origin string) {
		switch origin {
		case OriginKatonic:
			katonic++
		case OriginBoth:
			both++
		}
	}
	for _, e := range r.Envs {
		for _, o := range e.Objects {
			count(o.Origin)
		}
		for _, f := range e.Files {
			count(f.Origin)
		}
	}
	return katonic, both
}

// unionKeys returns the keys of a and b, sorted.
func unionKeys[V any](a, b map[string]V) []string {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sortRisks removes duplicate (class, message) pairs and sorts: high first,
// then by class and message. It returns nil for no risks.
func sortRisks(rs []Risk) []Risk {
	if len(rs) == 0 {
		return nil
	}
	seen := map[[2]string]bool{}
	var out []Risk
	for _, r := range rs {
		k := [2]string{r.Class, r.Message}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Level != b.Level {
			return a.Level == LevelHigh
		}
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		return a.Message < b.Message
	})
	return out
}

// errorf is fmt.Errorf with the package's prefix.
func errorf(format string, args ...any) error {
	return fmt.Errorf("diff: "+format, args...)
}
