package compile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/katonic/katonic/internal/filestat"
	"github.com/katonic/katonic/internal/rendercache"
	"github.com/katonic/katonic/internal/testrepo"
)

// TestFleetEntryEncodes guards the whole-compile cache entry (everything
// but the files' bytes, which are in each environment's entry): Put ignores
// its errors (a cache never fails a render), so a field gob cannot encode
// would silently turn every warm render into a full load. That happened
// once, with EnvResult.Source.
func TestFleetEntryEncodes(t *testing.T) {
	res, err := Compile(Options{Dir: "../..", Render: true})
	if err != nil {
		t.Fatal(err)
	}
	cache := &rendercache.Cache{Dir: t.TempDir()}
	if err := putFleet(cache, Hash([]byte("k")), toFleet(res)); err != nil {
		t.Fatalf("the fleet entry does not encode: %v", err)
	}
	got := getFleet(cache, Hash([]byte("k")))
	if got == nil {
		t.Fatal("the fleet entry does not decode")
	}
	fe := *got
	back, ok := fromFleet(res.Dir, &fe)
	if !ok {
		t.Fatal("fromFleet refused the entry toFleet made")
	}
	if !reflect.DeepEqual(back.Hashes(), res.Hashes()) || len(back.Hashes()) == 0 {
		t.Error("hashes differ after the round trip")
	}
	// Sums that do not match the file list (an entry of another layout)
	// make the entry a miss, never a result with files lacking hashes.
	fe.Envs[0].Sums = fe.Envs[0].Sums[1:]
	if _, ok := fromFleet(res.Dir, &fe); ok {
		t.Error("fromFleet took an entry whose sums do not match its files")
	}
	// Secrets, Releases and the files' bytes come from each environment's
	// entry, or, as here without a cache, from rendering it again.
	back.readEnv = readEnvFunc(res.Dir, filepath.Join(res.Dir, "out"), Options{})
	if err := back.ReadFiles(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Files, res.Files) {
		t.Error("files differ after ReadFiles")
	}
	for i := range res.Envs {
		want := res.Envs[i]
		want.Source = back.Envs[i].Source
		if !reflect.DeepEqual(back.Envs[i], want) {
			t.Errorf("environment %s differs after the cache", want.Env.Name)
		}
	}
	if !reflect.DeepEqual(back.Hashes(), res.Hashes()) || len(back.Hashes()) != len(res.Files) {
		t.Error("file hashes differ after the cache")
	}
}

// TestBackgroundSave: with Background, the whole compile's entry is
// written once Wait returns, so the next compile is taken whole from the
// cache; without waiting, a Result still has every hash.
func TestBackgroundSave(t *testing.T) {
	if rendercache.ToolID() == "" {
		t.Skip("this test binary cannot be identified, so nothing is cached")
	}
	// The write is held back, so that a Wait that does not wait for it
	// returns before it is done.
	var written atomic.Bool
	backgroundSave = func(save func()) {
		time.Sleep(300 * time.Millisecond)
		save()
		written.Store(true)
	}
	defer func() { backgroundSave = func(save func()) { save() } }()
	cache := &rendercache.Cache{Dir: t.TempDir()}
	opts := Options{Dir: "../..", Render: true, Cache: cache, Lazy: true, Background: true}
	first, err := Compile(opts)
	if err != nil {
		t.Fatal(err)
	}
	if first.saved == nil || first.ManifestSum != "" {
		t.Fatalf("a compile made now: saved %v, ManifestSum %q", first.saved, first.ManifestSum)
	}
	first.Wait()
	if !written.Load() {
		t.Fatal("Wait returned before the cache entry was written")
	}
	again, err := Compile(opts)
	if err != nil {
		t.Fatal(err)
	}
	again.Wait() // nothing to wait for
	if again.ManifestSum == "" || again.Cached != len(again.Envs) {
		t.Fatalf("not taken whole from the cache after Wait: ManifestSum %q, %d of %d cached", again.ManifestSum, again.Cached, len(again.Envs))
	}
	if !reflect.DeepEqual(again.Hashes(), first.Hashes()) {
		t.Error("hashes differ")
	}
	var none *Result
	none.Wait()
}

// TestFileSums: an environment file is hashed for its key from the stat
// recorded with its hash once that stat is settled, without being read;
// an edit that keeps the file's size and mtime still gives it a new key
// (its ctime changed), so the render matches one without the cache.
func TestFileSums(t *testing.T) {
	if rendercache.ToolID() == "" || !filestat.Supported {
		t.Skip("this test binary cannot be identified, or this platform has no ctime: nothing is cached")
	}
	dir := testrepo.New(t, "../..", testrepo.Fleet(1))
	cache := &rendercache.Cache{Dir: t.TempDir()}
	opts := Options{Dir: dir, Render: true, Cache: cache}
	if _, err := Compile(opts); err != nil {
		t.Fatal(err)
	}
	sumsKey := rendercache.NewHasher().AddString("environment file sums", dir).Key()
	var known fileSums
	if cache.Get(sumsKey, &known) && len(known) > 0 {
		t.Fatalf("a file written just now was recorded: %v", known)
	}
	time.Sleep(2100 * time.Millisecond) // settled
	if _, err := Compile(opts); err != nil {
		t.Fatal(err)
	}
	if !cache.Get(sumsKey, &known) || len(known) != 1 {
		t.Fatalf("the settled file was not recorded: %v", known)
	}
	// Taken from the record: a record that lies is believed.
	name := filepath.Join(dir, "environments", "fleet-0000.cue")
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	lie := known["fleet-0000.cue"]
	lie.Sum[0]++
	if err := cache.Put(sumsKey, fileSums{"fleet-0000.cue": lie}); err != nil {
		t.Fatal(err)
	}
	ck, ok, err := cacheKeys(dir, filepath.Join(dir, "out"), opts)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	cache.Put(sumsKey, known)
	if truth, _, _ := cacheKeys(dir, filepath.Join(dir, "out"), opts); truth.env["fleet-0000"] == ck.env["fleet-0000"] {
		t.Error("the file was read although its stat was recorded")
	}

	// Same size, same mtime, other content: a new key all the same.
	good, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(good), "fleet.example", "fleat.example", 1)
	if err := os.WriteFile(name, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(name, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	warm, err := Compile(opts)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := Compile(Options{Dir: dir, Render: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(warm.Hashes(), fresh.Hashes()) {
		t.Error("an edit keeping size and mtime was not seen")
	}
}
