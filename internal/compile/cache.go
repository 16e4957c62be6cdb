package compile

import (
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/filestat"
	"github.com/katonic/katonic/internal/load"
	"github.com/katonic/katonic/internal/outdir"
	"github.com/katonic/katonic/internal/render"
	"github.com/katonic/katonic/internal/rendercache"
	"github.com/katonic/katonic/internal/secrets"
)

// fleetEntry is a whole successful Compile, cached under the fleet key:
// everything but the files' bytes and each environment's Secrets and
// Releases, which are in its envEntry (Result.ReadFiles reads them when
// they are needed): what a render where nothing changed decodes. The
// files' hashes are kept with their environment, as 32-byte sums beside
// its file list, so that each path is written once and no map is decoded:
// at 1,000 environments the entry is about half the size of a map of
// hex hashes, and decodes in a fraction of its time.
type fleetEntry struct {
	Diags diag.List
	Envs  []cachedEnv
	Scope []string
	// Other holds the hashes of rendered files no environment lists (none
	// today: every file is an environment's).
	Other map[string]string
	// Manifest is the outdir.ManifestSum of the render's hashes, for a
	// render without Scope (Result.ManifestSum).
	Manifest string
}

// fleetHead is what a fleet entry's file holds first: the fleetEntry but
// its environments, and how many follow, each a gob value of its own
// (putFleet), so that neither the encoder nor the decoder holds the
// megabytes of a fleet in one message.
type fleetHead struct {
	Diags    diag.List
	Scope    []string
	Other    map[string]string
	Manifest string
	Envs     int
}

// putFleet stores fe under key as a fleetHead and then its environments.
func putFleet(c *rendercache.Cache, key string, fe *fleetEntry) error {
	if fe == nil {
		return errors.New("no fleet entry") // not a render's hashes: nothing to cache
	}
	return c.PutStream(key, func(enc *gob.Encoder) error {
		if err := enc.Encode(fleetHead{Diags: fe.Diags, Scope: fe.Scope, Other: fe.Other, Manifest: fe.Manifest, Envs: len(fe.Envs)}); err != nil {
			return err
		}
		for i := range fe.Envs {
			if err := enc.Encode(&fe.Envs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// getFleet reads the fleet entry putFleet stored under key, or nil.
func getFleet(c *rendercache.Cache, key string) *fleetEntry {
	var fe fleetEntry
	ok := c.GetStream(key, func(dec *gob.Decoder) error {
		var h fleetHead
		if err := dec.Decode(&h); err != nil {
			return err
		}
		if h.Envs < 0 || h.Envs > 1<<20 {
			return errors.New("not a fleet entry")
		}
		fe = fleetEntry{Diags: h.Diags, Scope: h.Scope, Other: h.Other, Manifest: h.Manifest, Envs: make([]cachedEnv, h.Envs)}
		for i := range fe.Envs {
			if err := dec.Decode(&fe.Envs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if !ok {
		return nil
	}
	return &fe
}

// cachedEnv is an EnvResult without its Source (CUE values, which gob
// cannot encode and a cache hit does not need), Secrets and Releases.
// Sums are the SHA-256 of Files, in order, 32 bytes each. Valid is what
// validation alone reported (positions relative to the repository root),
// so that the next compile can take an unchanged environment from this
// entry (lastValid).
type cachedEnv struct {
	Env   *config.Environment
	Key   string
	Files []string
	Sums  []byte
	Diags diag.List
	Valid diag.List
	Clean bool // validEntry.Clean
}

// hashes returns e's files' hashes by path (lowercase hex), or false when
// its Sums do not match its Files (an entry of another layout: a miss).
func (e *cachedEnv) hashes(into map[string]string) bool {
	if !e.whole() {
		return false
	}
	// One string for all of them: a fleet entry holds tens of thousands.
	all := hex.EncodeToString(e.Sums)
	const n = 2 * sha256.Size
	for i, p := range e.Files {
		into[p] = all[i*n : (i+1)*n]
	}
	return true
}

// whole reports whether e's Sums match its Files, one SHA-256 each.
func (e *cachedEnv) whole() bool { return len(e.Sums) == sha256.Size*len(e.Files) }

// lastRead is the entry of the last compile of a repository with a
// compile's options (keys.last), read on another goroutine (readLast)
// while cacheKeys hashes the inputs.
type lastRead struct {
	done chan struct{}
	key  string      // the fleet key the last compile recorded
	fe   *fleetEntry // its entry; nil when there is none or it does not decode
}

// readLast starts reading the fleet entry that the entry pointer names
// (keys.last) from c, and returns at once.
func readLast(c *rendercache.Cache, pointer string) *lastRead {
	lr := &lastRead{done: make(chan struct{})}
	go func() {
		defer close(lr.done)
		var key string
		if c.Get(pointer, &key) {
			if fe := getFleet(c, key); fe != nil {
				lr.key, lr.fe = key, fe
			}
		}
	}()
	return lr
}

// wait waits for the read and returns its entry if it was recorded under
// the fleet key fleet, or whatever it holds when fleet is "". A nil lr
// holds nothing.
func (lr *lastRead) wait(fleet string) *fleetEntry {
	if lr == nil {
		return nil
	}
	<-lr.done
	if fleet != "" && lr.key != fleet {
		return nil
	}
	return lr.fe
}

// lastCompile is what the last compile of this repository with these
// options (keys.last) recorded: what lastFrom returns.
type lastCompile struct {
	// valid holds, by environment key, the validEntry of every
	// environment of that compile: the environments a one-file change
	// left as they were are then taken from one entry, not from an entry
	// each. An environment whose validation diagnostics the entry cannot
	// tell (gob writes an empty list as none) is left out.
	valid map[string]*validEntry
	// manifest is that render's outdir.ManifestSum, and hashes its files'
	// hashes by environment name: "" and nil unless it was a whole render
	// whose every file belongs to an environment.
	manifest string
	hashes   map[string]map[string]string
}

// lastFrom returns what the last compile's entry fe recorded, or nil when
// there is none.
func lastFrom(fe *fleetEntry) *lastCompile {
	if fe == nil {
		return nil
	}
	lc := &lastCompile{valid: make(map[string]*validEntry, len(fe.Envs)), hashes: make(map[string]map[string]string, len(fe.Envs))}
	whole := fe.Scope == nil && len(fe.Other) == 0 && len(fe.Manifest) == 2*sha256.Size
	for _, e := range fe.Envs {
		hashes := make(map[string]string, len(e.Files))
		if e.Env == nil || !e.hashes(hashes) {
			whole = false
			continue
		}
		lc.hashes[e.Env.Name] = hashes
		if e.Key == "" || e.Valid == nil && len(e.Diags) > 0 {
			continue
		}
		lc.valid[e.Key] = &validEntry{Env: e.Env, Diags: e.Valid, Clean: e.Clean, Rendered: true, Hashes: hashes}
	}
	if whole {
		lc.manifest = fe.Manifest
	} else {
		lc.hashes = nil
	}
	return lc
}

// entry returns the validEntry of the environment key, if lc has one.
func (lc *lastCompile) entry(key string) (*validEntry, bool) {
	if lc == nil {
		return nil, false
	}
	ve, ok := lc.valid[key]
	return ve, ok
}

// changes returns res, a whole render, as a change from the last one (see
// Result.BaseSum): that render's ManifestSum and the paths whose hash
// differs, with res's hash ("" for a path res does not have). It returns
// "" and nil when lc cannot tell: no whole last render, or a file of res
// that no environment lists.
func (lc *lastCompile) changes(res *Result) (string, map[string]string) {
	if lc == nil || lc.manifest == "" {
		return "", nil
	}
	listed := 0
	for _, e := range res.Envs {
		listed += len(e.Files)
	}
	if listed != len(res.hashes) {
		return "", nil
	}
	changed := map[string]string{}
	for _, old := range lc.hashes {
		for p, h := range old {
			if now := res.hashes[p]; now != h {
				changed[p] = now
			}
		}
	}
	for _, e := range res.Envs {
		old := lc.hashes[e.Env.Name]
		for _, p := range e.Files {
			if _, ok := old[p]; !ok {
				changed[p] = res.hashes[p]
			}
		}
	}
	return lc.manifest, changed
}

// validEntry is one environment's validation, cached under validKey of its
// environment key: what Compile needs of an environment whose inputs did
// not change, without building its CUE instance. Only environments without
// errors are cached. Diagnostic positions are relative to the repository
// root, so a clone elsewhere shares the entry. Once the environment is
// rendered, the entry also holds what the render made but the files'
// bytes (Rendered): their SHA-256, its Secrets and Releases.
type validEntry struct {
	Env   *config.Environment
	Diags diag.List
	// Clean records that the load found nothing to report in the
	// environment's file, and that the file declares this environment
	// only: a load may then leave the same bytes unread
	// (load.Options.Unparsed).
	Clean    bool
	Rendered bool
	Hashes   map[string]string
	Secrets  []render.SecretRef
	Releases []render.Release
}

// rendered reports whether ve is not nil and records a render.
func (ve *validEntry) rendered() bool { return ve != nil && ve.Rendered }

// validKey is the key of an environment's validEntry: its environment key
// covers everything validation reads (katonic, cue.mod/, schema/, profiles/,
// the file and its secrets).
func validKey(envKey string) string {
	return rendercache.NewHasher().AddString("validated", envKey).Key()
}

func newValidEntry(dir string, env *config.Environment, d diag.List, clean bool) *validEntry {
	return &validEntry{Env: env, Diags: d.Relative(dir), Clean: clean}
}

// abs returns ve with its positions made absolute again under dir.
func (ve validEntry) abs(dir string) *validEntry {
	ve.Diags.Absolute(dir)
	return &ve
}

// cleanFiles returns, by environment name, whether the environment's
// file is clean (validEntry.Clean): it is named after the environment,
// declares no other, and the load reported nothing in it (diags).
func cleanFiles(repo *load.Repository, diags diag.List) map[string]bool {
	perFile := map[string]int{}
	for _, e := range repo.Envs {
		perFile[e.File]++
	}
	reported := map[string]bool{}
	for _, d := range diags {
		reported[d.Pos.Filename] = true
	}
	clean := map[string]bool{}
	for _, e := range repo.Envs {
		clean[e.Name] = filepath.Base(e.File) == e.Name+".cue" && perFile[e.File] == 1 && !reported[e.File]
	}
	return clean
}

// envEntry is one environment's render, cached under its environment key.
type envEntry struct {
	Files    map[string][]byte
	Secrets  []render.SecretRef
	Releases []render.Release
}

// keys computes the cache keys of a compile: the fleet key (every input of
// the whole compile) and a key per environment file name, or ok false when
// this build of katonic cannot be identified (nothing is cached then).
// The environment key covers katonic, cue.mod/, schema/, profiles/, the
// .cue files of the repository root, the environment's file and secrets, the spec.path prefix and whether flux bootstrap wrote
// clusters/<env>/flux-system/ — everything render.Environment depends on.
type keys struct {
	fleet string
	env   map[string]string
	// last names the entry that holds the fleet key of the last compile
	// of this repository with these options (a pointer, not content).
	last string
}

func cacheKeys(dir, out string, opts Options) (keys, bool, error) {
	tool := opts.Cache.ToolID()
	if tool == "" {
		return keys{}, false, nil
	}
	prefix := PathPrefix(dir, out)
	global := rendercache.NewHasher().AddString("tool", tool).AddString("prefix", prefix)
	for _, d := range []string{"cue.mod", load.SchemaDir, load.ProfilesDir} {
		if err := global.AddTree(dir, d); err != nil {
			return keys{}, false, uncachedIfUncovered(err)
		}
	}
	// CUE's loader merges a package's files found in the directories above
	// it, so a .cue file in the repository root can join schema/ or
	// profiles/: the root's .cue files are part of the key.
	rootEntries, err := os.ReadDir(dir)
	if err != nil {
		return keys{}, false, err
	}
	for _, e := range rootEntries {
		if filepath.Ext(e.Name()) != ".cue" {
			continue
		}
		if !e.Type().IsRegular() {
			return keys{}, false, nil // a link's target is not covered by its name
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return keys{}, false, err
		}
		global.Add("root "+e.Name(), b)
	}
	g := global.Key()

	entries, err := os.ReadDir(filepath.Join(dir, load.EnvironmentsDir))
	if err != nil {
		return keys{}, false, err
	}
	fleet := rendercache.NewHasher().AddString("global", g).
		AddString("envs", strings.Join(opts.Envs, ",")).
		AddString("shard", opts.Shard.String()).
		AddString("strict", fmt.Sprint(opts.Strict))
	// Only the environments with a folder in secrets/ hash one.
	hasSecrets := map[string]bool{}
	if des, err := os.ReadDir(filepath.Join(dir, secrets.Dir)); err == nil {
		for _, de := range des {
			hasSecrets[de.Name()] = true
		}
	}
	k := keys{env: map[string]string{}}
	var files []fs.DirEntry
	for _, e := range entries { // sorted by name
		fleet.AddString("entry", e.Name()+" "+e.Type().String())
		if !e.Type().IsRegular() {
			// A symlink, pipe or directory: load decides; not cached, since
			// a link's target is not covered by its name.
			if !e.IsDir() || filepath.Ext(e.Name()) == ".cue" {
				return keys{}, false, nil
			}
			continue
		}
		if filepath.Ext(e.Name()) != ".cue" {
			continue
		}
		files = append(files, e)
	}
	// Each environment's key hashes its file (read only when its stat is
	// not the one recorded with its hash) and its secrets: on every core,
	// since a fleet's files are a thousand.
	sumsKey := rendercache.NewHasher().AddString("environment file sums", dir).Key()
	var known fileSums
	opts.Cache.Get(sumsKey, &known)
	ref := time.Now().Add(-2 * time.Second).UnixNano()
	envKeys := make([]string, len(files))
	errs := make([]error, len(files))
	uncached := make([]bool, len(files))
	sums := make([]fileSum, len(files))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), max(len(files), 1)) {
		wg.Go(func() {
			for i := range next {
				envKeys[i], sums[i], uncached[i], errs[i] = envKey(dir, out, g, files[i], hasSecrets, known, ref)
			}
		})
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, e := range files {
		if errs[i] != nil {
			return keys{}, false, errs[i]
		}
		if uncached[i] {
			return keys{}, false, nil
		}
		k.env[strings.TrimSuffix(e.Name(), ".cue")] = envKeys[i]
		fleet.AddString("env", envKeys[i])
	}
	// The sums of the files as they are now, those settled (see fileSum).
	now := make(fileSums, len(files))
	for i, e := range files {
		if sums[i].Stat != (filestat.Stat{}) && sums[i].Stat.Settled(ref) {
			now[e.Name()] = sums[i]
		}
	}
	if !maps.Equal(now, known) {
		opts.Cache.Put(sumsKey, now)
	}
	if err := fleet.AddTree(dir, secrets.Dir); err != nil {
		return keys{}, false, uncachedIfUncovered(err)
	}
	k.fleet = fleet.Key()
	k.last = lastPointer(tool, dir, out, opts)
	return k, true, nil
}

// uncachedIfUncovered is nil for rendercache.ErrUncovered, which turns
// caching off (as a linked environment file does; the load then refuses a
// named pipe), and err otherwise.
func uncachedIfUncovered(err error) error {
	if errors.Is(err, rendercache.ErrUncovered) {
		return nil
	}
	return err
}

// lastPointer returns keys.last for a compile of the repository dir into
// out with opts, by the katonic build tool: it depends on none of the
// inputs' contents, so the last compile's entry can be read while they
// are hashed.
func lastPointer(tool, dir, out string, opts Options) string {
	return rendercache.NewHasher().AddString("last compile", tool).AddString("dir", dir).AddString("prefix", PathPrefix(dir, out)).
		AddString("envs", strings.Join(opts.Envs, ",")).AddString("shard", opts.Shard.String()).
		AddString("strict", fmt.Sprint(opts.Strict)).Key()
}

// fileSums records the SHA-256 of the environment files of a repository
// under their stat, by file name, in the render cache: a file whose stat
// is the one recorded is not read to compute its key, as git's index
// spares the files whose stat did not change (internal/filestat). Only a
// settled stat is recorded: its file's ctime and mtime are two seconds
// older than the compile that read it, so any later change gives the
// file another stat.
type fileSums map[string]fileSum

// fileSum is one file's stat and the SHA-256 of its content.
type fileSum struct {
	Stat filestat.Stat
	Sum  [sha256.Size]byte
}

// envKey returns the key of the environment file e of environments/
// under dir, given g, the key of every input environments share (see
// keys): its file, its secrets (secrets/<env>/, when hasSecrets lists it)
// and whether flux bootstrap wrote clusters/<env>/flux-system/ under out.
// The file's hash is taken from known when its stat is the one recorded
// there; otherwise the file is read, and its stat and hash are returned
// for the next compile to record (a zero Stat when the platform has none,
// or the file changed while it was read). uncached is true for a file too
// large to load (load reports it).
func envKey(dir, out, g string, e fs.DirEntry, hasSecrets map[string]bool, known fileSums, ref int64) (key string, sum fileSum, uncached bool, err error) {
	path := filepath.Join(dir, load.EnvironmentsDir, e.Name())
	if fi, err := os.Lstat(path); err == nil {
		if st, ok := filestat.Of(fi); ok && known[e.Name()].Stat == st {
			sum = known[e.Name()]
		}
	}
	if sum.Stat == (filestat.Stat{}) {
		if sum, uncached, err = readSum(path); uncached || err != nil {
			return "", fileSum{}, uncached, err
		}
	}
	name := strings.TrimSuffix(e.Name(), ".cue")
	_, statErr := os.Stat(filepath.Join(out, "clusters", name, "flux-system", "kustomization.yaml"))
	// The environment's SOPS-encrypted Secrets (secrets/<env>/); a file
	// name that is not a plain path element never validates anyway.
	eh := rendercache.NewHasher()
	if hasSecrets[name] && filepath.IsLocal(name) && filepath.Base(name) == name {
		if err := eh.AddTree(dir, filepath.Join(secrets.Dir, name)); err != nil {
			return "", fileSum{}, errors.Is(err, rendercache.ErrUncovered), uncachedIfUncovered(err)
		}
	}
	return rendercache.NewHasher().AddString("global", g).AddString("file", e.Name()).Add("sha256", sum.Sum[:]).AddString("secrets", eh.Key()).
		AddString("bootstrapped", fmt.Sprint(statErr == nil)).Key(), sum, false, nil
}

// readSum reads the environment file at path and returns its SHA-256 with
// the stat it had while it was read (a zero Stat when the platform gives
// none, or the file changed meanwhile). uncached is true for a file that
// cannot be opened or is larger than load.MaxFileSize: load reports it.
func readSum(path string) (sum fileSum, uncached bool, err error) {
	// Opened, then sized: one lstat fewer than Stat then Open.
	f, err := os.Open(path)
	if err != nil {
		return fileSum{}, true, nil
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil || before.Size() > load.MaxFileSize {
		return fileSum{}, true, nil
	}
	b := make([]byte, before.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return fileSum{}, false, err
	}
	if n, _ := f.Read(make([]byte, 1)); n > 0 {
		return fileSum{}, true, nil // growing while read: load reads it again
	}
	sum.Sum = sha256.Sum256(b)
	if st, ok := filestat.Of(before); ok {
		if after, err := f.Stat(); err == nil {
			if st2, ok := filestat.Of(after); ok && st2 == st {
				sum.Stat = st
			}
		}
	}
	return sum, false, nil
}

// fromFleet rebuilds a Result from a cached fleet entry, without the
// files' bytes. It returns false for an entry it cannot use (hashes that
// do not match their files).
func fromFleet(dir string, fe *fleetEntry) (*Result, bool) {
	fe.Diags.Absolute(dir)
	res := &Result{Dir: dir, Diags: fe.Diags, Files: map[string][]byte{}, fleet: fe, Cached: len(fe.Envs)}
	for i := range fe.Envs {
		e := &fe.Envs[i]
		if !e.whole() {
			return nil, false
		}
		e.Diags.Absolute(dir)
		res.Envs = append(res.Envs, EnvResult{Env: e.Env, Key: e.Key, Files: e.Files, Diags: e.Diags})
	}
	if fe.Scope != nil {
		res.Scope = fe.Scope
	} else {
		res.ManifestSum = fe.Manifest
	}
	return res, true
}

// hashes returns the hashes of every file of fe by path (lowercase hex).
// fromFleet checked that each environment's Sums match its Files.
func (fe *fleetEntry) hashes() map[string]string {
	n := len(fe.Other)
	for i := range fe.Envs {
		n += len(fe.Envs[i].Files)
	}
	m := make(map[string]string, n)
	maps.Copy(m, fe.Other)
	for i := range fe.Envs {
		fe.Envs[i].hashes(m)
	}
	return m
}

// toFleet makes the cache entry of a successful render.
func toFleet(res *Result) *fleetEntry {
	hashes := res.Hashes()
	fe := &fleetEntry{Diags: res.Diags.Relative(res.Dir), Scope: res.Scope}
	if res.Scope == nil {
		fe.Manifest = outdir.ManifestSum(hashes)
	}
	listed := 0
	// By pointer, reading only the fields named: a caller may set an
	// environment's Secrets and Releases (ReadFiles) while a background
	// save runs (Options.Background).
	for i := range res.Envs {
		e := &res.Envs[i]
		ce := cachedEnv{Env: e.Env, Key: e.Key, Files: e.Files, Diags: e.Diags.Relative(res.Dir), Sums: make([]byte, 0, sha256.Size*len(e.Files))}
		for _, p := range e.Files {
			sum, err := hex.DecodeString(hashes[p])
			if err != nil || len(sum) != sha256.Size {
				return nil // not a render's hashes: nothing to cache
			}
			ce.Sums = append(ce.Sums, sum...)
		}
		listed += len(e.Files)
		if ve := res.valid[e.Env.Name]; ve != nil {
			ce.Valid, ce.Clean = ve.Diags, ve.Clean
		}
		fe.Envs = append(fe.Envs, ce)
	}
	if listed != len(hashes) {
		inEnv := map[string]bool{}
		for i := range res.Envs {
			for _, p := range res.Envs[i].Files {
				inEnv[p] = true
			}
		}
		fe.Other = map[string]string{}
		for p, h := range hashes {
			if !inEnv[p] {
				fe.Other[p] = h
			}
		}
	}
	return fe
}

// Hash returns the SHA-256 of a file's content in lowercase hex, as
// Result.Hashes and the output directory's manifest hold it.
func Hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
