package compile

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/katonic/katonic/internal/rendercache"
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
