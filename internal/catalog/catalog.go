// Package catalog pins, per Katonic platform version, the exact chart sources
// the renderer targets: which Flux source object serves each chart, where it
// points and which version it installs. Nothing here floats: every version is
// exact, so a render is reproducible and an upgrade is a reviewed diff.
//
// Sources of the facts: ../../../shared/docs/katonic-domain.md, "Public Helm
// charts a renderer can target" (repositories, chart names, version lines);
// seeds 000/001 (Katonic 4.5) and 003 (Katonic 5.0.9) for the platform
// versions; Flux's source-controller documentation for the choice of
// OCIRepository over HelmRepository type oci (the latter is in maintenance).
package catalog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Kind is the Flux source kind (source.toolkit.fluxcd.io/v1) that serves a chart.
type Kind string

// The two source kinds a chart can come from.
const (
	// HelmRepository is an HTTP(S) Helm repository index; a HelmRelease
	// consumes it through spec.chart.spec {chart, version, sourceRef}.
	HelmRepository Kind = "HelmRepository"
	// OCIRepository is one chart artifact in an OCI registry, pinned by tag;
	// a HelmRelease consumes it through spec.chartRef. Flux recommends this
	// over HelmRepository with type oci, which is in maintenance mode.
	OCIRepository Kind = "OCIRepository"
)

// HelmChartLayerMediaType is the OCI layer media type of a packaged Helm chart;
// an OCIRepository serving a chart selects this layer with operation "copy"
// (Flux OCIRepository docs, "Layer selector"; Helm OCI registry support).
const HelmChartLayerMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

// Chart is one pinned chart and the Flux source object that serves it.
type Chart struct {
	// Source is the name of the source object in namespace flux-system,
	// a DNS-1123 label. HTTP repositories are shared by every chart they
	// serve (e.g. "codecentric"); each OCI chart has its own OCIRepository
	// (e.g. "bitnami-postgresql"), because an OCIRepository is one artifact.
	Source string
	// Kind is the source kind: HelmRepository or OCIRepository.
	Kind Kind
	// URL is the repository index URL for a HelmRepository
	// ("https://charts.min.io/") or the full artifact URL for an
	// OCIRepository ("oci://registry-1.docker.io/bitnamicharts/postgresql").
	URL string
	// Chart is the chart's name inside its repository (e.g. "keycloakx").
	Chart string
	// Version is the exact chart version (never a range); for an
	// OCIRepository it is the tag.
	Version string
	// Private marks a chart in Katonic's private registry: its source needs
	// a pull secret, and air-gapped or customer installs must mirror it.
	Private bool
	// AppVersion is the application version the chart installs (its
	// Chart.yaml appVersion), e.g. "26.3.2" for keycloakx 7.1.0.
	AppVersion string
	// KubeVersion is the Kubernetes versions the pin supports, as a Helm
	// kubeVersion constraint (Masterminds/semver syntax, e.g.
	// ">=1.25.0-0 <1.30.0-0"): the chart's own Chart.yaml kubeVersion,
	// narrowed by the project's support table where it publishes one
	// (Istio). "" means no published constraint.
	KubeVersion string
	// PinSource says where the pin, its appVersion and its KubeVersion
	// come from: the chart's Chart.yaml at that version, the project's
	// support table or release notes, the seed.
	PinSource string
	// Registries are the image name prefixes ("registry/path", with
	// docker.io for Docker Hub) that every image the chart runs must start
	// with when no image mirror is set: where katonic expects the chart's
	// images to come from. Empty for Katonic's private charts, whose
	// images are unknown here.
	Registries []string
	// CRDs says how the chart ships CustomResourceDefinitions, which
	// decides what an upgrade does to them (see CRDLayout); CRDSource
	// says where in the chart that was read. `katonic diff` flags a
	// version change of a chart that ships CRDs.
	CRDs      CRDLayout
	CRDSource string
}

// CRDLayout is how a chart ships CustomResourceDefinitions (Helm, "Custom
// Resource Definitions" best practices).
type CRDLayout string

// The CRD layouts of a chart.
const (
	// CRDsUnknown: the chart's content has not been checked (Katonic's
	// private charts, charts missing from the reference mirror).
	CRDsUnknown CRDLayout = ""
	// CRDsNone: the chart installs no CRD.
	CRDsNone CRDLayout = "none"
	// CRDsDir: the CRDs are in a crds/ directory (of the chart or of a
	// subchart). Helm installs them before the chart's templates and never
	// upgrades or deletes them; Flux's HelmRelease spec.install.crds and
	// spec.upgrade.crds (Skip, Create, CreateReplace; defaults Create and
	// Skip) decide what happens to them on install and upgrade.
	CRDsDir CRDLayout = "crds-dir"
	// CRDsTemplates: the CRDs are templates, rendered and upgraded with
	// the release like any other object.
	CRDsTemplates CRDLayout = "templates"
)

// Git is a pinned git source: the Kubeflow Pipelines manifests, which have no
// official chart and are applied with kustomize (katonic-domain.md).
type Git struct {
	// Source is the GitRepository name in flux-system.
	Source string
	// URL is the https clone URL.
	URL string
	// Tag is the exact git tag checked out.
	Tag string
	// Path is the kustomize overlay inside the repository, "./"-prefixed.
	Path string
	// ClusterPath is the overlay holding the cluster-scoped resources
	// (CRDs) that Path needs applied first, "./"-prefixed.
	ClusterPath string
	// PinSource says where the tag comes from.
	PinSource string
	// Images are the container images (names without tags) that the
	// overlay's workloads run, for rewriting to an image mirror: every
	// Deployment and StatefulSet of manifests/kustomize/env/platform-agnostic
	// at Tag, rendered with kustomize.
	Images []string
}

// Release is the pinned set of sources for one Katonic platform version.
// Values returned by Lookup are fresh copies: callers may modify them.
type Release struct {
	// PlatformVersion is the Katonic release, e.g. "5.0.9".
	PlatformVersion string
	// Charts maps a chart id (see the Chart* constants) to its pin.
	Charts map[string]Chart
	// Pipelines pins the Kubeflow Pipelines manifests.
	Pipelines Git
	// MinKubernetesVersion is the platform version's own Kubernetes
	// minimum (MAJOR.MINOR), on top of each profile's; "" when the platform
	// sets none beyond the profiles'. KubernetesSource cites it.
	MinKubernetesVersion, KubernetesSource string
}

// Chart ids: the keys of Release.Charts. They name what is installed, not
// where it comes from, so a source can change without touching the renderer.
const (
	ChartIstioBase           = "istio-base"
	ChartIstiod              = "istiod"
	ChartIstioGateway        = "istio-gateway"
	ChartKeycloakx           = "keycloakx"
	ChartMLflow              = "mlflow"
	ChartMinIO               = "minio"
	ChartMongoDB             = "mongodb"
	ChartPostgreSQL          = "postgresql"
	ChartRedis               = "redis"
	ChartKubePrometheusStack = "kube-prometheus-stack"
	ChartSuperset            = "superset"
	ChartAirbyte             = "airbyte"
	ChartLonghorn            = "longhorn"
	ChartKatonicUI           = "katonic-ui"
	ChartKatonicAPI          = "katonic-api"
)

// Chart returns the pin for chart id and whether it is known.
func (r *Release) Chart(id string) (Chart, bool) {
	c, ok := r.Charts[id]
	return c, ok
}

// ChartIDs returns the ids of r.Charts, sorted.
func (r *Release) ChartIDs() []string {
	ids := make([]string, 0, len(r.Charts))
	for id := range r.Charts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Istio releases katonic pins, with the Kubernetes versions Istio supports
// for each (istio.io, "Supported Releases", the table "Support status of
// Istio releases", column "Supported Kubernetes Versions"; its data file is
// istio/istio.io data/compatibility/supportStatus.yml). Istio's chart version
// is the Istio version. A platform version pins one Istio release, chosen so
// that the platform's whole Kubernetes range (the profiles' minimums and the
// platform's, katonic-domain.md "Profiles") is supported.
//
// The base chart carries Istio's CRDs, and moved them between the two:
// 1.20 ships them in crds/ (templates/crds.yaml renders them only with
// base.enableCRDTemplates, false by default); by 1.26 they are in files/,
// rendered by templates/crds.yaml, base.enableCRDTemplates true by default
// (manifests/charts/base at each tag).
var istioReleases = map[string]struct {
	kube, source  string
	baseCRDs      CRDLayout
	baseCRDSource string
}{
	"1.20.8": {">=1.25.0-0 <1.30.0-0", "istio.io Supported Releases (data/compatibility/supportStatus.yml): Istio 1.20 supports Kubernetes 1.25 to 1.29",
		CRDsDir, "istio/istio tag 1.20.8, manifests/charts/base: crds/crd-all.gen.yaml and crds/crd-operator.yaml; templates/crds.yaml only with base.enableCRDTemplates (default false)"},
	"1.26.8": {">=1.29.0-0 <1.34.0-0", "istio.io Supported Releases (data/compatibility/supportStatus.yml): Istio 1.26 supports Kubernetes 1.29 to 1.33",
		CRDsTemplates, "istio/istio tag 1.26.8, manifests/charts/base: templates/crds.yaml renders files/crd-all.gen.yaml (base.enableCRDTemplates, default true)"},
}

// Public chart pins. The original Katonic releases bundled their own chart
// copies, which are not public; these are the current public charts for the
// same components (katonic-domain.md), each with the application version it
// installs and the Kubernetes versions it supports. They are pins to be
// bumped deliberately, never ranges; docs/charts.md says how.
func publicCharts(istio string) map[string]Chart {
	const istioOCI = "oci://registry.istio.io/release/charts/"
	ir, ok := istioReleases[istio]
	if !ok {
		panic("catalog: no Istio release " + istio)
	}
	istioChart := func(source, chart string) Chart {
		c := Chart{Source: source, Kind: OCIRepository, URL: istioOCI + chart, Chart: chart, Version: istio,
			AppVersion: istio, KubeVersion: ir.kube,
			PinSource:  ir.source + "; istio/istio tag " + istio + " (chart version = Istio version)",
			Registries: []string{"docker.io/istio"},
			CRDs:       CRDsNone, CRDSource: chart + "-" + istio + ".tgz: no CustomResourceDefinition"}
		if chart == "base" {
			c.CRDs, c.CRDSource = ir.baseCRDs, ir.baseCRDSource
		}
		return c
	}
	// Bitnami's versioned images moved from docker.io/bitnami to
	// docker.io/bitnamilegacy in August 2025 (katonic-domain.md, "Supply
	// risks"); katonic overrides every image of these charts to the
	// legacy repository (internal/render).
	bitnami := func(chart, version, app string) Chart {
		return Chart{Source: "bitnami-" + chart, Kind: OCIRepository,
			URL: "oci://registry-1.docker.io/bitnamicharts/" + chart, Chart: chart, Version: version,
			AppVersion: app, PinSource: "bitnami/charts tag " + chart + "/" + version + ", bitnami/" + chart + "/Chart.yaml",
			Registries: []string{"docker.io/bitnamilegacy"},
			CRDs:       CRDsNone, CRDSource: chart + "-" + version + ".tgz (common subchart included): no CustomResourceDefinition"}
	}
	return map[string]Chart{
		ChartIstioBase:    istioChart("istio-base", "base"),
		ChartIstiod:       istioChart("istio-istiod", "istiod"),
		ChartIstioGateway: istioChart("istio-gateway", "gateway"),
		ChartKeycloakx: {Source: "codecentric", Kind: HelmRepository, URL: "https://codecentric.github.io/helm-charts",
			Chart: "keycloakx", Version: "7.1.0", AppVersion: "26.3.2",
			PinSource:  "codecentric/helm-charts tag keycloakx-7.1.0, charts/keycloakx/Chart.yaml (katonic-domain.md: the 7.1 line)",
			Registries: []string{"quay.io/keycloak", "docker.io/library/busybox"},
			CRDs:       CRDsNone, CRDSource: "keycloakx-7.1.0.tgz: no CustomResourceDefinition"},
		// The MLflow chart pins bitnami postgresql 18.7.5 as a dependency
		// (disabled here: MLflow uses the platform's Postgres).
		ChartMLflow: {Source: "community-charts", Kind: HelmRepository, URL: "https://community-charts.github.io/helm-charts",
			Chart: "mlflow", Version: "1.11.0", AppVersion: "3.7.0",
			PinSource:  "community-charts/helm-charts tag mlflow-1.11.0, charts/mlflow/Chart.yaml (katonic-domain.md: the 1.11 line)",
			Registries: []string{"docker.io/burakince"}},
		// MinIO's own chart; upstream MinIO is archived, a supply risk to
		// mirror (katonic-domain.md).
		ChartMinIO: {Source: "minio", Kind: HelmRepository, URL: "https://charts.min.io/",
			Chart: "minio", Version: "5.4.0", AppVersion: "RELEASE.2024-12-18T13-15-44Z",
			PinSource:  "minio/minio helm-releases/minio-5.4.0.tgz, Chart.yaml",
			Registries: []string{"quay.io/minio"},
			CRDs:       CRDsNone, CRDSource: "minio-5.4.0.tgz: no CustomResourceDefinition"},
		ChartMongoDB:    bitnami("mongodb", "16.5.0", "8.0.6"),
		ChartPostgreSQL: bitnami("postgresql", "16.7.0", "17.4.0"),
		ChartRedis:      bitnami("redis", "21.1.0", "8.0.0"),
		ChartKubePrometheusStack: {Source: "prometheus-community", Kind: HelmRepository, URL: "https://prometheus-community.github.io/helm-charts",
			Chart: "kube-prometheus-stack", Version: "88.0.0", AppVersion: "v0.93.0", KubeVersion: ">=1.25.0-0",
			PinSource:  "prometheus-community/helm-charts tag kube-prometheus-stack-88.0.0, Chart.yaml (kubeVersion >=1.25.0-0)",
			Registries: []string{"quay.io/prometheus", "quay.io/prometheus-operator", "quay.io/brancz", "quay.io/kiwigrid", "registry.k8s.io/kube-state-metrics", "docker.io/grafana", "docker.io/library/busybox", "docker.io/curlimages", "ghcr.io/jkroepke"},
			CRDs:       CRDsDir,
			CRDSource:  "kube-prometheus-stack-88.0.0.tgz: the crds subchart's crds/ (charts/crds/crds/crd-*.yaml, the Prometheus Operator's CRDs); its upgrade Job (crds.upgradeJob.enabled) is off by default"},
		// Apache Superset's chart (deprecated upstream, katonic-domain.md).
		ChartSuperset: {Source: "superset", Kind: HelmRepository, URL: "https://apache.github.io/superset",
			Chart: "superset", Version: "0.14.1", AppVersion: "4.1.1",
			PinSource:  "apache/superset helm/superset/Chart.yaml at superset-helm-chart-0.14.1 (appVersion 4.1.1, not verified offline: the chart is not in the reference mirror)",
			Registries: []string{"docker.io/apachesuperset.docker.scarf.sh", "docker.io/bitnamilegacy", "docker.io/apache", "docker.io/library/busybox", "docker.io/jwilder"}},
		// Airbyte's older helm-charts repository (chart v1): 0.43.33 installs
		// Airbyte 0.40.32, the version of seeds 001 and 003.
		ChartAirbyte: {Source: "airbyte", Kind: HelmRepository, URL: "https://airbytehq.github.io/helm-charts",
			Chart: "airbyte", Version: "0.43.33", AppVersion: "0.40.32",
			PinSource:  "airbytehq/helm-charts published airbyte-0.43.33.tgz, Chart.yaml appVersion 0.40.32 (seeds 001 and 003: Airbyte 0.40.32)",
			Registries: []string{"docker.io/airbyte", "docker.io/temporalio", "docker.io/bitnamilegacy", "docker.io/library/busybox", "docker.io/curlimages"},
			CRDs:       CRDsNone, CRDSource: "airbyte-0.43.33.tgz: no CustomResourceDefinition"},
		// Longhorn: the on-prem "storage" service on the storage pool
		// (seed 000: storage nodes run Katonic's storage solution).
		ChartLonghorn: {Source: "longhorn", Kind: HelmRepository, URL: "https://charts.longhorn.io",
			Chart: "longhorn", Version: "1.9.0", AppVersion: "v1.9.0", KubeVersion: ">=1.25.0-0",
			PinSource:  "longhorn/longhorn tag v1.9.0, chart/Chart.yaml (kubeVersion >=1.25.0-0)",
			Registries: []string{"docker.io/longhornio"},
			CRDs:       CRDsTemplates, CRDSource: "longhorn/longhorn tag v1.9.0, chart/templates/crds.yaml (the longhorn.io CRDs as templates)"},
	}
}

// katonicChart pins one of Katonic's own charts. They have no public chart:
// oci://registry.katonic.ai/charts is Katonic's private registry, which an
// installation must mirror (and authenticate to) before Flux can pull from it.
// The chart version follows the platform version, completed to the
// MAJOR.MINOR.PATCH that Helm requires of a chart version (SemVer 2, Helm's
// Chart.yaml reference): platform 4.5 is chart 4.5.0. A bare "4.5" in a
// HelmRelease would be a range to Flux (4.5.x), not a pin.
func katonicChart(chart, platformVersion string) Chart {
	return Chart{Source: chart, Kind: OCIRepository, URL: "oci://registry.katonic.ai/charts/" + chart,
		Chart: chart, Version: chartVersion(platformVersion), Private: true, AppVersion: platformVersion,
		PinSource: "Katonic's private registry: the chart of platform version " + platformVersion + " (seeds 000, 001, 003)"}
}

// chartVersion completes a platform version to the MAJOR.MINOR.PATCH of
// SemVer 2 (semver coerces 4.5 to 4.5.0). Platform versions are katonic's
// own constants, so one semver cannot read is a programming error.
func chartVersion(v string) string {
	return semver.MustParse(v).String()
}

// kubeflowPipelines pins the Kubeflow Pipelines manifests at tag; source
// says where the tag comes from. The images are the same names at 1.8.5 and
// 2.3.0 (their tags differ).
func kubeflowPipelines(tag, source string) Git {
	var images []string
	for _, n := range []string{"api-server", "cache-deployer", "cache-server", "frontend", "metadata-envoy",
		"metadata-writer", "minio", "mysql", "persistenceagent", "scheduledworkflow", "viewer-crd-controller",
		"visualization-server", "workflow-controller"} {
		images = append(images, "gcr.io/ml-pipeline/"+n)
	}
	images = append(images, "gcr.io/tfx-oss-public/ml_metadata_store_server")
	return Git{
		Source:      "kubeflow-pipelines",
		URL:         "https://github.com/kubeflow/pipelines",
		Tag:         tag,
		Path:        "./manifests/kustomize/env/platform-agnostic",
		ClusterPath: "./manifests/kustomize/cluster-scoped-resources",
		PinSource:   source,
		Images:      images,
	}
}

// releases builds the table of known platform versions. It is a function, not
// a package variable, so every caller gets its own copy.
func releases() map[string]*Release {
	mk := func(v, istio, kfpTag, kfpSource, minKube, kubeSource string) *Release {
		ch := publicCharts(istio)
		ch[ChartKatonicUI] = katonicChart("katonic-ui", v)
		ch[ChartKatonicAPI] = katonicChart("katonic-api", v)
		return &Release{PlatformVersion: v, Charts: ch, Pipelines: kubeflowPipelines(kfpTag, kfpSource),
			MinKubernetesVersion: minKube, KubernetesSource: kubeSource}
	}
	return map[string]*Release{
		// Katonic 4.5: seeds 000 (validated on Kubernetes 1.27) and 001
		// (on-prem, 1.25 and above). Istio 1.20 is the newest Istio that
		// supports 1.25; it supports up to 1.29.
		"4.5": mk("4.5", "1.20.8", "1.8.5",
			"kubeflow/pipelines tag 1.8.5 (2022-09-01), the last 1.x backend release, current when Katonic 4.5 shipped; no seed names a Kubeflow Pipelines version (seeds 000 and 001 list \"Google Kubeflow Pipelines\")",
			"", ""),
		// Katonic 5.0.9: seed 003 (AKS 1.29 and above). Istio 1.26 supports
		// 1.29 to 1.33.
		"5.0.9": mk("5.0.9", "1.26.8", "2.3.0",
			"kubeflow/pipelines tag 2.3.0 (2024-09-06), the newest backend release of 2024, the year of Katonic 5.0; no seed names a Kubeflow Pipelines version",
			"1.29",
			"seed 003_48ea17a7d7c364df.txt, \"Kubernetes(AKS) version\": Katonic 5.0.9 is validated with Kubernetes 1.29 and above"),
	}
}

// Lookup returns a fresh copy of the pins for platformVersion (e.g. "5.0.9").
// It fails, naming the known versions, when platformVersion is not one of
// Versions().
func Lookup(platformVersion string) (*Release, error) {
	r, ok := releases()[platformVersion]
	if !ok {
		return nil, fmt.Errorf("catalog: unknown Katonic platform version %q (known: %s)",
			platformVersion, strings.Join(Versions(), ", "))
	}
	return r, nil
}

// Versions returns the known Katonic platform versions, sorted as strings.
func Versions() []string {
	rs := releases()
	vs := make([]string, 0, len(rs))
	for v := range rs {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	return vs
}

// MirrorSource is the name of the single HelmRepository that serves every
// chart when an environment's charts come from an HTTP(S) mirror.
const MirrorSource = "katonic-mirror"

// Mirror returns a copy of r in which every chart is served by the mirror at
// url instead of its upstream source, for air-gapped and on-prem installs that
// copy charts into a private registry (katonic-domain.md, "Supply risks").
// Chart names and versions are unchanged, so a mirror must hold the same
// artifacts:
//   - "https://host/path" (or http): one HelmRepository, MirrorSource, whose
//     index.yaml lists every chart; each chart keeps its name.
//   - "oci://host/path": one OCIRepository per chart, named "mirror-<chart>",
//     at oci://host/path/<chart>, tagged with the chart version (Helm's OCI
//     layout, as `helm push chart.tgz oci://host/path` writes it).
//
// A trailing slash on url is ignored. It returns an error for any other URL
// scheme. Mirrored charts carry no pull secret: Private is false.
func (r *Release) Mirror(url string) (*Release, error) {
	base := strings.TrimRight(url, "/")
	oci := strings.HasPrefix(base, "oci://")
	if !oci && !strings.HasPrefix(base, "https://") && !strings.HasPrefix(base, "http://") {
		return nil, fmt.Errorf("chart mirror %q: want an oci://, https:// or http:// URL", url)
	}
	out := &Release{PlatformVersion: r.PlatformVersion, Pipelines: r.Pipelines, Charts: make(map[string]Chart, len(r.Charts)),
		MinKubernetesVersion: r.MinKubernetesVersion, KubernetesSource: r.KubernetesSource}
	for id, c := range r.Charts {
		m := Chart{Chart: c.Chart, Version: c.Version, AppVersion: c.AppVersion, KubeVersion: c.KubeVersion,
			PinSource: c.PinSource, Registries: c.Registries, CRDs: c.CRDs, CRDSource: c.CRDSource}
		if oci {
			m.Kind, m.Source, m.URL = OCIRepository, "mirror-"+c.Chart, base+"/"+c.Chart
		} else {
			m.Kind, m.Source, m.URL = HelmRepository, MirrorSource, base
		}
		out.Charts[id] = m
	}
	return out, nil
}

// ChartCRDs returns how chart (a chart name, as in a HelmRelease's
// spec.chart.spec.chart or an OCI artifact's last path element) ships its
// CRDs at version, from the pins of every platform version: the pin of
// that exact version when there is one (pinned == version), else the
// newest pin of the chart whose layout is known (pinned is its version, so
// a message can say which version the fact is about). It returns
// CRDsUnknown and "" when no pin of the chart says.
func ChartCRDs(chart, version string) (layout CRDLayout, source, pinned string) {
	var best *semver.Version
	for _, v := range Versions() {
		r, _ := Lookup(v)
		for _, id := range r.ChartIDs() {
			c := r.Charts[id]
			if c.Chart != chart || c.CRDs == CRDsUnknown {
				continue
			}
			if c.Version == version {
				return c.CRDs, c.CRDSource, c.Version
			}
			if cv, err := semver.NewVersion(c.Version); err == nil && (best == nil || cv.GreaterThan(best)) {
				best, layout, source, pinned = cv, c.CRDs, c.CRDSource, c.Version
			}
		}
	}
	return layout, source, pinned
}

// SupportsKubernetes reports whether the pin supports Kubernetes version v
// ("1.29" or "1.29.5"; a missing patch counts as .0), checked against
// KubeVersion the way Helm checks a chart's kubeVersion (Masterminds/semver
// constraints). A pin with no KubeVersion supports every version. It
// returns an error when v or KubeVersion cannot be parsed.
func (c Chart) SupportsKubernetes(v string) (bool, error) {
	if c.KubeVersion == "" {
		return true, nil
	}
	cons, err := semver.NewConstraint(c.KubeVersion)
	if err != nil {
		return false, fmt.Errorf("chart %s %s: kubeVersion %q: %w", c.Chart, c.Version, c.KubeVersion, err)
	}
	sv, err := semver.NewVersion(v)
	if err != nil {
		return false, fmt.Errorf("Kubernetes version %q: %w", v, err)
	}
	return cons.Check(sv), nil
}

// MinKubernetes returns the lowest Kubernetes version (MAJOR.MINOR) that an
// environment of platformVersion may run, given its profile's minimum
// profileMin (cited by profileSource), and the source of the deciding rule:
// the platform version's own minimum (Release.MinKubernetesVersion) when it
// is higher, the profile's otherwise. An unknown platform version or an
// unreadable version leaves the profile's minimum.
func MinKubernetes(platformVersion, profileMin, profileSource string) (string, string) {
	r, err := Lookup(platformVersion)
	if err != nil || r.MinKubernetesVersion == "" {
		return profileMin, profileSource
	}
	pm, err1 := semver.NewVersion(profileMin)
	rm, err2 := semver.NewVersion(r.MinKubernetesVersion)
	if err1 != nil || err2 != nil || !rm.GreaterThan(pm) {
		return profileMin, profileSource
	}
	return r.MinKubernetesVersion, r.KubernetesSource
}

// KubernetesRange says the pin's KubeVersion in words, by MAJOR.MINOR:
// ">=1.25.0-0 <1.30.0-0" is "1.25 to 1.29", ">=1.25.0-0" is "1.25 and
// later", "" is "any". A constraint of another shape is returned as it is.
func (c Chart) KubernetesRange() string {
	if c.KubeVersion == "" {
		return "any"
	}
	var lo, hi string
	for _, f := range strings.Fields(c.KubeVersion) {
		v, err := semver.NewVersion(strings.TrimLeft(f, "<>="))
		if err != nil {
			return c.KubeVersion
		}
		switch {
		case strings.HasPrefix(f, ">="):
			lo = fmt.Sprintf("%d.%d", v.Major(), v.Minor())
		case strings.HasPrefix(f, "<") && !strings.HasPrefix(f, "<=") && v.Minor() > 0 && v.Patch() == 0:
			hi = fmt.Sprintf("%d.%d", v.Major(), v.Minor()-1)
		default:
			return c.KubeVersion
		}
	}
	switch {
	case lo != "" && hi != "":
		return lo + " to " + hi
	case lo != "":
		return lo + " and later"
	case hi != "":
		return "up to " + hi
	}
	return c.KubeVersion
}
