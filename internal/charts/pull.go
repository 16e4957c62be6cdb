package charts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/downloader"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
)

// Pull statuses (PullResult.Status).
const (
	StatusAdded     = "added"
	StatusUnchanged = "unchanged"
	StatusUpdated   = "updated"
)

// PullOptions configure Pull.
type PullOptions struct {
	// Cache receives the fetched bytes.
	Cache Cache
	// Lock is compared with and updated in place (Set); it must not be nil.
	Lock *Lock
	// Update accepts digests that changed upstream (else *DigestError).
	Update bool
	// PlainHTTP talks plain HTTP to OCI registries (like helm --plain-http).
	PlainHTTP bool
	// Progress, if not nil, receives one line per chart.
	Progress io.Writer
}

// PullResult is the outcome for one chart.
type PullResult struct {
	// Entry is the chart and the digest of the fetched bytes (now locked).
	Entry Entry
	// Status is StatusAdded (not locked before), StatusUnchanged (same
	// digest as locked) or StatusUpdated (digest changed, accepted with
	// PullOptions.Update).
	Status string
}

// Pull downloads each ref with Helm's own code, stores the bytes in
// opts.Cache and records their digest in opts.Lock.
//
// For an HTTP(S) repository it does what `helm pull --repo URL CHART
// --version V` does (https://helm.sh/docs/helm/helm_pull/): it downloads the
// repository's index.yaml (repo.ChartRepository.DownloadIndexFile), finds
// the exact version in it (repo.IndexFile.Get; a version that only matches
// as a semver range is refused), resolves the chart URL against the
// repository URL and downloads it with downloader.ChartDownloader and
// getter.All. If the index records a digest for the chart, the downloaded
// bytes must match it. For OCI it pulls oci://host/path/chart:version with
// Helm's registry client (https://helm.sh/docs/topics/registries/), over
// plain HTTP if opts.PlainHTTP. Every fetched archive must load with Helm's
// loader and its Chart.yaml must carry the ref's chart name and version.
//
// The digest of the bytes is compared with the lock: no entry gives
// StatusAdded, an equal digest StatusUnchanged, a different one a
// *DigestError (Where "upstream") unless opts.Update, which gives
// StatusUpdated. The lock is changed only for added and updated charts;
// entries for refs not passed are left alone (see Lock.Retain).
//
// Refs are processed one by one in sorted order (Repository, Chart,
// Version), duplicates once. A chart that fails does not stop the others:
// Pull returns the results of the charts that succeeded, in that order, and
// errors.Join of every failure (nil if none). Each failure names its chart;
// digest mismatches are *DigestError (find them with errors.As). A
// cancelled ctx stops Pull before the next chart (Helm's getters take no
// context, so a download under way is not interrupted).
//
// Helm's repository config, repository cache, registry credentials file and
// plugin directory all point into a private temporary directory that Pull
// removes, so ~/.config/helm and ~/.cache/helm are neither read nor written
// and no Helm plugin runs. (Helm's registry client still reads Docker's
// credential store for registry logins, as `helm pull` does.)
func Pull(ctx context.Context, refs []Ref, opts PullOptions) ([]PullResult, error) {
	if opts.Lock == nil {
		return nil, errors.New("pull charts: no lock given")
	}
	if opts.Cache.Dir == "" {
		return nil, errors.New("pull charts: no cache directory given")
	}
	sorted := slices.Clone(refs)
	slices.SortFunc(sorted, compareRefs)
	sorted = slices.Compact(sorted)

	tmp, err := os.MkdirTemp("", "katonic-helm-")
	if err != nil {
		return nil, fmt.Errorf("pull charts: %w", err)
	}
	defer os.RemoveAll(tmp)

	p, err := newPuller(tmp, opts.PlainHTTP)
	if err != nil {
		return nil, fmt.Errorf("pull charts: %w", err)
	}

	var (
		results []PullResult
		errs    []error
	)
	for i, r := range sorted {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("pull charts: stopped before %s: %w", r, err))
			break
		}
		res, err := p.pullOne(r, filepath.Join(tmp, "charts", strconv.Itoa(i)), opts)
		if err != nil {
			errs = append(errs, err)
			progress(opts.Progress, "failed    %s\n", r)
			continue
		}
		results = append(results, res)
		progress(opts.Progress, "%-9s %s %s\n", res.Status, r, res.Entry.Digest)
	}
	return results, errors.Join(errs...)
}

func progress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}

// puller holds the Helm machinery shared by the charts of one Pull.
type puller struct {
	settings  *cli.EnvSettings
	getters   getter.Providers
	registry  *registry.Client
	plainHTTP bool
	indexes   map[string]*repo.IndexFile // by repository URL
	indexErrs map[string]error           // by repository URL
}

// newPuller builds Helm settings whose every path lies under tmp, the
// getters (HTTP(S), OCI; plugins are looked for in an empty directory) and
// a registry client whose credentials file lies under tmp.
func newPuller(tmp string, plainHTTP bool) (*puller, error) {
	settings := cli.New()
	settings.RepositoryConfig = filepath.Join(tmp, "config", "repositories.yaml")
	settings.RepositoryCache = filepath.Join(tmp, "cache", "repository")
	settings.RegistryConfig = filepath.Join(tmp, "config", "registry", "config.json")
	settings.PluginsDirectory = filepath.Join(tmp, "plugins")
	settings.KubeConfig = filepath.Join(tmp, "kubeconfig")

	regOpts := []registry.ClientOption{
		registry.ClientOptCredentialsFile(settings.RegistryConfig),
		registry.ClientOptWriter(io.Discard),
		registry.ClientOptEnableCache(true),
	}
	if plainHTTP {
		regOpts = append(regOpts, registry.ClientOptPlainHTTP())
	}
	rc, err := registry.NewClient(regOpts...)
	if err != nil {
		return nil, fmt.Errorf("helm registry client: %w", err)
	}
	return &puller{
		settings:  settings,
		getters:   getter.All(settings),
		registry:  rc,
		plainHTTP: plainHTTP,
		indexes:   map[string]*repo.IndexFile{},
		indexErrs: map[string]error{},
	}, nil
}

// pullOne fetches r into dest, stores it and reconciles it with the lock.
func (p *puller) pullOne(r Ref, dest string, opts PullOptions) (PullResult, error) {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return PullResult{}, fmt.Errorf("pull chart %s: %w", r, err)
	}
	var (
		data []byte
		err  error
	)
	if r.IsOCI() {
		data, err = p.fetchOCI(r, dest)
	} else {
		data, err = p.fetchHTTP(r, dest)
	}
	if err != nil {
		return PullResult{}, fmt.Errorf("pull chart %s: %w", r, err)
	}
	if _, err := loadArchive(r, data); err != nil {
		return PullResult{}, fmt.Errorf("pull chart %s: %w", r, err)
	}
	d, err := opts.Cache.Put(data)
	if err != nil {
		return PullResult{}, fmt.Errorf("pull chart %s: %w", r, err)
	}
	e := Entry{Ref: r, Digest: d}
	status := StatusAdded
	if locked, ok := opts.Lock.Lookup(r); ok {
		switch {
		case locked.Digest == d:
			return PullResult{Entry: e, Status: StatusUnchanged}, nil
		case !opts.Update:
			return PullResult{}, &DigestError{Ref: r, Locked: locked.Digest, Got: d, Where: WhereUpstream}
		}
		status = StatusUpdated
	}
	opts.Lock.Set(e)
	return PullResult{Entry: e, Status: status}, nil
}

// fetchHTTP is `helm pull --repo r.Repository r.Chart --version r.Version`
// with the index kept in memory for the charts of the same repository.
func (p *puller) fetchHTTP(r Ref, dest string) ([]byte, error) {
	u, err := url.Parse(r.Repository)
	if err != nil {
		return nil, fmt.Errorf("repository URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("repository URL %q: scheme must be http, https or oci", r.Repository)
	}
	idx, err := p.index(r.Repository)
	if err != nil {
		return nil, err
	}
	cv, err := idx.Get(r.Chart, r.Version)
	if err != nil || cv.Version != r.Version {
		return nil, fmt.Errorf("chart %q version %q not found in the index of %s", r.Chart, r.Version, r.Repository)
	}
	if len(cv.URLs) == 0 {
		return nil, fmt.Errorf("index of %s lists no download URL for chart %q version %q", r.Repository, r.Chart, r.Version)
	}
	chartURL, err := repo.ResolveReferenceURL(r.Repository, cv.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("chart URL %q: %w", cv.URLs[0], err)
	}
	cd := downloader.ChartDownloader{
		Out:              io.Discard,
		Verify:           downloader.VerifyNever,
		Getters:          p.getters,
		RepositoryConfig: p.settings.RepositoryConfig,
		RepositoryCache:  p.settings.RepositoryCache,
		RegistryClient:   p.registry,
	}
	saved, _, err := cd.DownloadTo(chartURL, r.Version, dest)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", chartURL, err)
	}
	data, err := os.ReadFile(saved)
	if err != nil {
		return nil, err
	}
	if cv.Digest != "" {
		want := strings.TrimPrefix(cv.Digest, "sha256:")
		if got := digest.SHA256.FromBytes(data).Encoded(); got != want {
			return nil, fmt.Errorf("downloaded %s has digest sha256:%s, but the repository index says sha256:%s", chartURL, got, want)
		}
	}
	return data, nil
}

// index downloads and parses repoURL's index.yaml once per Pull, with Helm's
// ChartRepository caching into the private temporary directory.
func (p *puller) index(repoURL string) (*repo.IndexFile, error) {
	if idx, ok := p.indexes[repoURL]; ok {
		return idx, nil
	}
	if err, ok := p.indexErrs[repoURL]; ok {
		return nil, err
	}
	idx, err := p.downloadIndex(repoURL)
	if err != nil {
		err = fmt.Errorf("chart repository %s: %w", repoURL, err)
		p.indexErrs[repoURL] = err
		return nil, err
	}
	p.indexes[repoURL] = idx
	return idx, nil
}

func (p *puller) downloadIndex(repoURL string) (*repo.IndexFile, error) {
	cr, err := repo.NewChartRepository(&repo.Entry{
		Name: "repo-" + strconv.Itoa(len(p.indexes)+len(p.indexErrs)),
		URL:  repoURL,
	}, p.getters)
	if err != nil {
		return nil, err
	}
	cr.CachePath = p.settings.RepositoryCache
	file, err := cr.DownloadIndexFile()
	if err != nil {
		return nil, fmt.Errorf("download index.yaml: %w", err)
	}
	idx, err := repo.LoadIndexFile(file)
	if err != nil {
		return nil, fmt.Errorf("load index.yaml: %w", err)
	}
	return idx, nil
}

// fetchOCI is `helm pull oci://host/path/chart --version r.Version`.
func (p *puller) fetchOCI(r Ref, dest string) ([]byte, error) {
	u, err := url.Parse(r.Repository)
	if err != nil {
		return nil, fmt.Errorf("OCI repository URL: %w", err)
	}
	if base := path.Base(u.Path); base != r.Chart {
		return nil, fmt.Errorf("OCI repository URL %q ends in %q, not in the chart name %q", r.Repository, base, r.Chart)
	}
	cd := downloader.ChartDownloader{
		Out:     io.Discard,
		Verify:  downloader.VerifyNever,
		Getters: p.getters,
		Options: []getter.Option{
			getter.WithRegistryClient(p.registry),
			getter.WithPlainHTTP(p.plainHTTP),
		},
		RegistryClient:   p.registry,
		RepositoryConfig: p.settings.RepositoryConfig,
		RepositoryCache:  p.settings.RepositoryCache,
	}
	saved, _, err := cd.DownloadTo(r.Repository, r.Version, dest)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(saved)
}
