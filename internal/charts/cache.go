package charts

import (
	"bytes"
	_ "crypto/sha256" // registers SHA-256 for go-digest
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// CacheDirEnv names the environment variable that overrides
// DefaultCacheDir.
const CacheDirEnv = "KATONIC_CACHE_DIR"

// ErrNotCached is wrapped by Cache.Load when the chart's bytes are not in the
// cache (run `katonic charts pull` to fetch them).
var ErrNotCached = errors.New("chart not in cache")

// DigestError reports that a chart's bytes do not match the digest recorded
// in the lock file.
type DigestError struct {
	// Ref is the chart.
	Ref Ref
	// Locked is the digest in the lock file, Got the digest of the bytes.
	Locked, Got string
	// Where is "upstream" (Pull fetched bytes other than the locked ones)
	// or "cache" (the cached file no longer has the locked digest).
	Where string
}

// Where values of DigestError.
const (
	WhereUpstream = "upstream"
	WhereCache    = "cache"
)

// Error says which chart, both digests, and what to do about it.
func (e *DigestError) Error() string {
	switch e.Where {
	case WhereUpstream:
		return fmt.Sprintf("chart %s has digest %s, but %s locks %s: "+
			"the chart changed upstream since it was locked; review it and run `katonic charts pull --update` to accept it",
			e.Ref, e.Got, LockFile, e.Locked)
	case WhereCache:
		return fmt.Sprintf("cached chart %s has digest %s, but %s locks %s: "+
			"the cached file was modified; run `katonic charts pull` to fetch it again",
			e.Ref, e.Got, LockFile, e.Locked)
	default:
		return fmt.Sprintf("chart %s (%s) has digest %s, but %s locks %s", e.Ref, e.Where, e.Got, LockFile, e.Locked)
	}
}

// Cache is a content-addressed store of packaged charts: the chart whose
// .tgz bytes have digest sha256:<hex> is the file Dir/sha256/<hex>.tgz (the
// blob layout of an OCI image layout,
// https://github.com/opencontainers/image-spec/blob/main/image-layout.md#blobs).
type Cache struct {
	// Dir is the cache's root directory; it is created on the first Put.
	Dir string
}

// DefaultCacheDir returns the chart cache directory: $KATONIC_CACHE_DIR if it
// is set and not empty, else os.UserCacheDir()/katonic/charts (on Linux
// $XDG_CACHE_HOME or ~/.cache, following the XDG base directory
// specification). The error is os.UserCacheDir's, wrapped.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv(CacheDirEnv); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("chart cache directory (set %s to choose one): %w", CacheDirEnv, err)
	}
	return filepath.Join(base, "katonic", "charts"), nil
}

// Path returns the file that holds the chart with digest d
// ("sha256:<hex>"), or an error if d is not a sha256 digest.
func (c Cache) Path(d string) (string, error) {
	if err := checkDigest(d); err != nil {
		return "", err
	}
	if c.Dir == "" {
		return "", errors.New("chart cache directory is not set")
	}
	parsed := digest.Digest(d)
	return filepath.Join(c.Dir, parsed.Algorithm().String(), parsed.Encoded()+".tgz"), nil
}

// Put stores data (a packaged chart) and returns its digest "sha256:<hex>".
// The file is written atomically (temporary file and rename), so concurrent
// readers see either no file or the whole file; storing bytes that are
// already there rewrites them, which also repairs a damaged file.
func (c Cache) Put(data []byte) (string, error) {
	d := digest.SHA256.FromBytes(data).String()
	p, err := c.Path(d)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("chart cache: %w", err)
	}
	if err := writeFileAtomic(p, data, 0o644); err != nil {
		return "", fmt.Errorf("chart cache: write %s: %w", d, err)
	}
	return d, nil
}

// Load reads the cached chart locked by e, checks it and loads it with
// Helm's loader.LoadArchive.
//
// Errors: a malformed e.Digest; a file that does not exist wraps
// ErrNotCached; bytes that do not hash to e.Digest give a *DigestError with
// Where "cache"; an archive Helm cannot load, or whose Chart.yaml name or
// version differs from e.Chart / e.Version, gives an error naming e.
func (c Cache) Load(e Entry) (*chart.Chart, error) {
	p, err := c.Path(e.Digest)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", e.Ref, err)
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load chart %s: %w (%s); run `katonic charts pull` to fetch it", e.Ref, ErrNotCached, p)
	}
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", e.Ref, err)
	}
	if got := digest.SHA256.FromBytes(data).String(); got != e.Digest {
		return nil, &DigestError{Ref: e.Ref, Locked: e.Digest, Got: got, Where: WhereCache}
	}
	return loadArchive(e.Ref, data)
}

// loadArchive loads a packaged chart with Helm's loader and checks that it
// is the chart r names (Chart.yaml name and version).
func loadArchive(r Ref, data []byte) (*chart.Chart, error) {
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", r, err)
	}
	if ch.Metadata == nil {
		return nil, fmt.Errorf("load chart %s: archive has no Chart.yaml metadata", r)
	}
	if ch.Metadata.Name != r.Chart || ch.Metadata.Version != r.Version {
		return nil, fmt.Errorf("load chart %s: archive holds chart %s version %s, not %s version %s",
			r, ch.Metadata.Name, ch.Metadata.Version, r.Chart, r.Version)
	}
	return ch, nil
}
