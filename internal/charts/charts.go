// Package charts pins, fetches, caches and renders the Helm charts that the
// rendered Flux output refers to.
//
// The rendered output names each chart the way a Flux source serves it: a
// HelmRepository (an HTTP(S) chart repository with an index.yaml, see
// https://fluxcd.io/flux/components/source/helmrepositories/) plus a chart
// name and exact version, or an OCIRepository whose spec.url is the chart's
// OCI artifact (oci://host/path/chart, see
// https://fluxcd.io/flux/components/source/ocirepositories/) plus a tag.
//
// Every chart that is used is recorded in a lock file (LockFile) together
// with the sha256 digest of its packaged .tgz bytes; the bytes themselves are
// kept in a content-addressed Cache. Pull fetches charts with Helm's own
// downloader and registry client, Cache.Load verifies and loads them, and
// Template renders them offline the way `helm template` does.
package charts

import (
	"cmp"
	"strings"

	"helm.sh/helm/v3/pkg/registry"
)

// Ref identifies one pinned chart as a rendered Flux source serves it.
//
// Two Refs are the same chart only if all three fields are equal byte for
// byte: no URL normalisation is done (the rendered output is deterministic,
// so the same source always yields the same strings).
type Ref struct {
	// Repository is the HelmRepository spec.url (http(s)://host/path) or,
	// for OCI, the OCIRepository spec.url (oci://host/path/chart).
	Repository string `json:"repository" yaml:"repository"`
	// Chart is the chart name (for OCI: the last path element of the URL).
	Chart string `json:"chart" yaml:"chart"`
	// Version is the exact chart version (for OCI: the tag).
	Version string `json:"version" yaml:"version"`
}

// IsOCI reports whether r names a chart in an OCI registry, that is whether
// its Repository has the oci:// scheme (the rule of Helm's registry.IsOCI,
// https://helm.sh/docs/topics/registries/).
func (r Ref) IsOCI() bool { return registry.IsOCI(r.Repository) }

// String returns a stable, human-readable form of r: for OCI the full
// reference "oci://host/charts/postgresql:16.7.0" (as `helm pull` takes it),
// otherwise "<repository> <chart> <version>", e.g.
// "https://charts.min.io/ minio 5.4.0" (the arguments of
// `helm pull --repo URL CHART --version V`).
func (r Ref) String() string {
	if r.IsOCI() {
		return r.Repository + ":" + r.Version
	}
	return r.Repository + " " + r.Chart + " " + r.Version
}

// compareRefs orders refs by Repository, then Chart, then Version (plain
// byte-wise string order), the order of the lock file and of Pull.
func compareRefs(a, b Ref) int {
	return cmp.Or(
		strings.Compare(a.Repository, b.Repository),
		strings.Compare(a.Chart, b.Chart),
		strings.Compare(a.Version, b.Version),
	)
}

// Entry is one locked chart: its ref and the sha256 digest of the packaged
// chart (the .tgz bytes), "sha256:<hex>" (the OCI digest form, see
// https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests;
// for OCI charts it equals the digest of the chart layer).
type Entry struct {
	Ref    `json:",inline" yaml:",inline"`
	Digest string `json:"digest" yaml:"digest"`
}
