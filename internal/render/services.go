package render

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/config"
)

// Service keys of environments."<name>".services (seed 001, "Pre Deployed
// Services"; storage: seed 000, on-prem storage nodes).
const (
	svcIstio       = "istio"
	svcKatonicUI   = "katonic-ui"
	svcKatonicAPI  = "katonic-api"
	svcFileManager = "file-manager"
	svcKeycloak    = "keycloak"
	svcMLflow      = "mlflow"
	svcMLflowMinIO = "mlflow-minio"
	svcMongoDB     = "mongodb"
	svcPostgres    = "postgres"
	svcRedis       = "redis"
	svcMonitoring  = "monitoring"
	svcPipelines   = "pipelines"
	svcSuperset    = "superset"
	svcAirbyte     = "airbyte"
	svcStorage     = "storage"
)

// HelmRelease timing and remediation (Flux helm-controller docs,
// "Configuring failure handling").
const (
	releaseInterval = 30 * time.Minute
	releaseTimeout  = 15 * time.Minute
	releaseRetries  = 3
)

// Onprem ingress: the external network load balancer of seed 001 forwards
// to these fixed NodePorts on the platform nodes (any free ports in the
// default 30000-32767 NodePort range would do; they are fixed so the load
// balancer can be configured once).
const (
	GatewayHTTPNodePort  = 30080
	GatewayHTTPSNodePort = 30443
)

// gatewayName overrides the gateway chart's resource name so that its pods
// carry the conventional istio=ingressgateway label, which Istio's Ingress
// support and Katonic's Gateway objects select.
const gatewayName = "istio-ingressgateway"

func gatewayPodLabels() map[string]string { return map[string]string{"istio": "ingressgateway"} }

// placement is a values path (dot-separated, "" = top level) under which a
// chart takes nodeSelector and tolerations for its pods, and the pool they
// go to.
type placement struct {
	path string
	pool config.Role
}

func on(pool config.Role, paths ...string) []placement {
	out := make([]placement, len(paths))
	for i, p := range paths {
		out[i] = placement{p, pool}
	}
	return out
}

// Placement keys per chart (katonic-domain.md, "placement keys"; each chart's
// values.yaml). Every pod of a platform service goes to the platform pool;
// Airbyte's connector jobs go to the compute pool. kube-prometheus-stack's
// node-exporter is a DaemonSet that must run on every node and keeps its
// chart default (tolerate every NoSchedule taint).
func chartPlacement(chart string) []placement {
	p := config.RolePlatform
	switch chart {
	case catalog.ChartIstioBase:
		return nil // CRDs and cluster roles only, no pods
	case catalog.ChartIstiod:
		return on(p, "pilot")
	case catalog.ChartMongoDB:
		return on(p, "", "arbiter")
	case catalog.ChartPostgreSQL:
		return on(p, "primary", "readReplicas")
	case catalog.ChartRedis:
		return on(p, "master", "replica")
	case catalog.ChartKubePrometheusStack:
		return on(p, "prometheusOperator", "prometheusOperator.admissionWebhooks.patch",
			"prometheus.prometheusSpec", "alertmanager.alertmanagerSpec", "grafana", "kube-state-metrics")
	case catalog.ChartMinIO:
		return on(p, "", "postJob")
	case catalog.ChartSuperset:
		return on(p, "", "postgresql.primary", "redis.master")
	case catalog.ChartAirbyte:
		return append(on(p, "webapp", "server", "worker", "temporal", "airbyte-bootloader", "pod-sweeper",
			"connector-builder-server", "airbyte-api-server", "cron", "metrics", "minio", "postgresql"),
			on(config.RoleCompute, "global.jobs.kube")...)
	case catalog.ChartLonghorn:
		return on(config.RoleStorage, "longhornUI", "longhornDriver")
	default: // istio gateway, keycloakx, mlflow, Katonic's own charts
		return on(p, "")
	}
}

// nodeAgents lists the templates of chart whose pods follow the chart's
// node agent rather than a node pool (render.Release.NodeAgents).
func nodeAgents(chart string) map[string]string {
	if chart != catalog.ChartLonghorn {
		return nil
	}
	// Longhorn's upgrade and uninstall jobs take longhornManager's
	// placement (templates/*-job.yaml), and the manager is a DaemonSet that
	// must run on every node that mounts a volume (Longhorn docs, "Node
	// selector": the manager runs wherever volumes attach).
	const why = "runs with Longhorn's manager, on any node that mounts Longhorn volumes (the chart gives it longhornManager's placement)"
	return map[string]string{
		"longhorn/templates/postupgrade-job.yaml": why,
		"longhorn/templates/preupgrade-job.yaml":  why,
		"longhorn/templates/uninstall-job.yaml":   why,
	}
}

// secretValue feeds one Secret key into one values path through
// spec.valuesFrom; an empty targetPath merges the key as a values file.
type secretValue struct {
	secret, key, targetPath, purpose string
}

// release is one HelmRelease of a service.
type release struct {
	name      string   // HelmRelease and Helm release name
	chart     string   // catalog chart id
	dependsOn []string // HelmRelease names, kept when their service is enabled
	secrets   []secretValue
	crds      bool // install and upgrade CRDs with CreateReplace
}

// service is one services key and what it installs.
type service struct {
	key      string
	layer    string
	releases []release
}

// services is the renderer's table, in render order. Dependencies encode the
// roles of seed 001: Keycloak keeps its data in Postgres; MLflow stores
// artifacts in MLflow-MinIO and metadata in Postgres; the API server needs
// MongoDB, Postgres, Redis and Keycloak; the UI needs the API.
func services() []service {
	return []service{
		{svcStorage, LayerInfrastructure, []release{{name: svcStorage, chart: catalog.ChartLonghorn}}},
		{svcIstio, LayerPlatform, []release{
			{name: "istio-base", chart: catalog.ChartIstioBase},
			{name: "istio-istiod", chart: catalog.ChartIstiod, dependsOn: []string{"istio-base"}},
			{name: "istio-gateway", chart: catalog.ChartIstioGateway, dependsOn: []string{"istio-istiod"}},
		}},
		{svcPostgres, LayerPlatform, []release{{name: svcPostgres, chart: catalog.ChartPostgreSQL, secrets: []secretValue{
			{"postgres-credentials", "postgres-password", "auth.postgresPassword", "PostgreSQL superuser password"},
		}}}},
		{svcMongoDB, LayerPlatform, []release{{name: svcMongoDB, chart: catalog.ChartMongoDB, secrets: []secretValue{
			{"mongodb-credentials", "root-password", "auth.rootPassword", "MongoDB root password"},
		}}}},
		{svcRedis, LayerPlatform, []release{{name: svcRedis, chart: catalog.ChartRedis, secrets: []secretValue{
			{"redis-credentials", "password", "auth.password", "Redis password"},
		}}}},
		{svcKeycloak, LayerPlatform, []release{{name: svcKeycloak, chart: catalog.ChartKeycloakx,
			dependsOn: []string{svcPostgres},
			secrets: []secretValue{
				{"keycloak-credentials", "db-password", "database.password", "Keycloak's PostgreSQL user password"},
			}}}},
		{svcFileManager, LayerPlatform, []release{{name: svcFileManager, chart: catalog.ChartMinIO, secrets: minioSecrets("file-manager-credentials", "file manager")}}},
		{svcMLflowMinIO, LayerPlatform, []release{{name: svcMLflowMinIO, chart: catalog.ChartMinIO, secrets: minioSecrets("mlflow-minio-credentials", "MLflow artifact store")}}},
		{svcMLflow, LayerPlatform, []release{{name: svcMLflow, chart: catalog.ChartMLflow,
			dependsOn: []string{svcMLflowMinIO, svcPostgres},
			secrets: []secretValue{
				{"mlflow-credentials", "db-password", "backendStore.postgres.password", "MLflow's PostgreSQL user password and artifact-store keys"},
				{"mlflow-credentials", "s3-access-key-id", "artifactRoot.s3.awsAccessKeyId", ""},
				{"mlflow-credentials", "s3-secret-access-key", "artifactRoot.s3.awsSecretAccessKey", ""},
			}}}},
		{svcMonitoring, LayerPlatform, []release{{name: svcMonitoring, chart: catalog.ChartKubePrometheusStack, crds: true,
			secrets: []secretValue{
				{"monitoring-credentials", "grafana-admin-password", "grafana.adminPassword", "Grafana admin password"},
			}}}},
		{svcKatonicAPI, LayerPlatform, []release{{name: svcKatonicAPI, chart: catalog.ChartKatonicAPI,
			dependsOn: []string{svcMongoDB, svcPostgres, svcRedis, svcKeycloak},
			secrets: []secretValue{
				{"katonic-api-credentials", "values.yaml", "", "values file with the Katonic API's database, cache and Keycloak client credentials"},
			}}}},
		{svcKatonicUI, LayerPlatform, []release{{name: svcKatonicUI, chart: catalog.ChartKatonicUI, dependsOn: []string{svcKatonicAPI}}}},
		{svcPipelines, LayerPipelines, nil},
		{svcSuperset, LayerAddons, []release{{name: svcSuperset, chart: catalog.ChartSuperset, secrets: []secretValue{
			{"superset-credentials", "secret-key", "extraSecretEnv.SUPERSET_SECRET_KEY", "Superset secret key and metadata database password"},
			{"superset-credentials", "db-password", "postgresql.auth.password", ""},
			{"superset-credentials", "db-password", "supersetNode.connections.db_pass", ""},
		}}}},
		// Airbyte keeps its data in the shared Postgres and its logs and
		// state in the file manager's MinIO (values.go, airbyteValues);
		// the chart reads the MinIO credentials from minio.auth.
		{svcAirbyte, LayerAddons, []release{{name: svcAirbyte, chart: catalog.ChartAirbyte,
			dependsOn: []string{svcPostgres, svcFileManager},
			secrets: []secretValue{
				{"airbyte-credentials", "db-password", "externalDatabase.password", "Airbyte's PostgreSQL user password and the file manager's MinIO credentials (its root-user and root-password)"},
				{"airbyte-credentials", "minio-access-key", "minio.auth.rootUser", ""},
				{"airbyte-credentials", "minio-secret-key", "minio.auth.rootPassword", ""},
			}}}},
	}
}

// ServiceCharts returns the catalog chart ids (catalog.Chart*) that service
// key installs, in render order; none for an unknown key or for Kubeflow
// Pipelines, which is applied from git.
func ServiceCharts(key string) []string {
	var ids []string
	for _, s := range services() {
		if s.key != key {
			continue
		}
		for _, rl := range s.releases {
			ids = append(ids, rl.chart)
		}
	}
	return ids
}

func minioSecrets(secret, what string) []secretValue {
	return []secretValue{
		{secret, "root-user", "rootUser", "MinIO root credentials of the " + what},
		{secret, "root-password", "rootPassword", ""},
	}
}

// serviceObjects renders the HelmReleases of one enabled service (and, for
// Istio, the IngressClass the add-ons' Ingresses name).
func (r *renderer) serviceObjects(s service) ([]any, error) {
	var out []any
	for _, rl := range s.releases {
		hr, err := r.helmRelease(s, rl)
		if err != nil {
			return nil, err
		}
		out = append(out, hr)
	}
	if s.key == svcIstio {
		out = append(out, &networkingv1.IngressClass{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "IngressClass"},
			ObjectMeta: metav1.ObjectMeta{Name: ingressClass},
			Spec:       networkingv1.IngressClassSpec{Controller: "istio.io/ingress-controller"},
		})
	}
	return out, nil
}

// ingressClass is the IngressClass of every Ingress katonic configures; its
// controller is Istio's ingress support (Istio docs, "Kubernetes Ingress").
const ingressClass = "istio"

func (r *renderer) helmRelease(s service, rl release) (*helmv2.HelmRelease, error) {
	c, ok := r.rel.Chart(rl.chart)
	if !ok {
		return nil, fmt.Errorf("services.%s: catalog %s has no chart %q", s.key, r.rel.PlatformVersion, rl.chart)
	}
	ns := r.env.Services[s.key].Namespace
	yes := true
	hr := &helmv2.HelmRelease{
		TypeMeta:   typeMeta(helmv2.GroupVersion.String(), helmv2.HelmReleaseKind),
		ObjectMeta: fluxMeta(rl.name),
		Spec: helmv2.HelmReleaseSpec{
			Interval:         dur(releaseInterval),
			Timeout:          durp(releaseTimeout),
			ReleaseName:      rl.name,
			TargetNamespace:  ns,
			StorageNamespace: ns,
			Install: &helmv2.Install{
				CreateNamespace: false,
				Remediation:     &helmv2.InstallRemediation{Retries: releaseRetries},
			},
			Upgrade: &helmv2.Upgrade{
				CleanupOnFail: true,
				Remediation:   &helmv2.UpgradeRemediation{Retries: releaseRetries, RemediateLastFailure: &yes},
			},
		},
	}
	switch c.Kind {
	case catalog.OCIRepository:
		hr.Spec.ChartRef = &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: c.Source, Namespace: FluxNamespace}
	default:
		hr.Spec.Chart = &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
			Chart:   c.Chart,
			Version: c.Version,
			SourceRef: helmv2.CrossNamespaceObjectReference{
				Kind: sourcev1.HelmRepositoryKind, Name: c.Source, Namespace: FluxNamespace,
			},
		}}
	}
	if rl.crds {
		hr.Spec.Install.CRDs = helmv2.CreateReplace
		hr.Spec.Upgrade.CRDs = helmv2.CreateReplace
	}
	for _, d := range rl.dependsOn {
		if r.enabledRelease(d) {
			hr.Spec.DependsOn = append(hr.Spec.DependsOn, meta.DependencyReference{Name: d})
		}
	}
	secrets := append([]secretValue(nil), rl.secrets...)
	if s.key == svcKeycloak && r.env.Identity.Mode != "" && r.env.Identity.Mode != "local" {
		secrets = append(secrets, secretValue{"keycloak-identity-provider", "values.yaml", "",
			"values file configuring Keycloak's " + r.env.Identity.Mode + " identity provider (seed 000, \"User Accounts\")"})
	}
	for _, sv := range secrets {
		hr.Spec.ValuesFrom = append(hr.Spec.ValuesFrom, helmv2.ValuesReference{
			Kind: "Secret", Name: sv.secret, ValuesKey: sv.key, TargetPath: sv.targetPath,
		})
		r.addSecret(SecretRef{Namespace: FluxNamespace, Name: sv.secret, Keys: []string{sv.key}, Service: s.key, Purpose: sv.purpose})
	}
	vals := values{}
	info := Release{Name: rl.name, Service: s.key, Namespace: ns, ChartID: rl.chart, Chart: c}
	for _, p := range chartPlacement(rl.chart) {
		vals.merge(p.path, placementValues(r.env, p.pool))
		if !slices.Contains(info.Pools, p.pool) {
			info.Pools = append(info.Pools, p.pool)
		}
	}
	slices.Sort(info.Pools)
	info.NodeAgents = nodeAgents(rl.chart)
	r.rels = append(r.rels, info)
	if err := r.serviceValues(s.key, rl, vals); err != nil {
		return nil, err
	}
	if len(vals) > 0 {
		raw, err := json.Marshal(vals)
		if err != nil {
			return nil, err
		}
		hr.Spec.Values = &apiextensionsv1.JSON{Raw: raw}
	}
	return hr, nil
}

// enabledRelease reports whether the HelmRelease named name is rendered.
func (r *renderer) enabledRelease(name string) bool {
	for _, s := range services() {
		for _, rl := range s.releases {
			if rl.name == name {
				return r.env.Enabled(s.key)
			}
		}
	}
	return false
}

// placementValues is {nodeSelector, tolerations} for pods on pool role,
// derived from config.NodePool.Labels and Taints so the label and taint
// strings live in one place (internal/config). Untainted pools (compute) get
// a nodeSelector only. GPU type labels are left out: they select a GPU
// flavour, not the pool.
func placementValues(env *config.Environment, role config.Role) map[string]any {
	pool := env.NodePools[role]
	sel := map[string]any{config.PoolLabelKey: pool.Labels(role)[config.PoolLabelKey]}
	out := map[string]any{"nodeSelector": sel}
	if t := tolerations(pool.Taints(role)); len(t) > 0 {
		out["tolerations"] = t
	}
	return out
}

func tolerations(ts []config.Taint) []any {
	var out []any
	for _, t := range ts {
		out = append(out, map[string]any{"key": t.Key, "operator": "Equal", "value": t.Value, "effect": t.Effect})
	}
	return out
}

// values is a Helm values tree.
type values map[string]any

// at returns the map at dot path p, creating it; "" is the root.
func (v values) at(p string) map[string]any {
	m := map[string]any(v)
	if p == "" {
		return m
	}
	for _, k := range strings.Split(p, ".") {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	return m
}

// set stores x at dot path p.
func (v values) set(p string, x any) {
	i := strings.LastIndex(p, ".")
	if i < 0 {
		v[p] = x
		return
	}
	v.at(p[:i])[p[i+1:]] = x
}

// merge copies the keys of m into the map at dot path p.
func (v values) merge(p string, m map[string]any) {
	dst := v.at(p)
	for _, k := range sortedKeys(m) {
		dst[k] = m[k]
	}
}

// Placement is a values path under which a chart takes the nodeSelector and
// tolerations of its pods, and the node-pool role those pods go to.
type Placement struct {
	// Path is dot-separated from the values root ("" = top level, e.g.
	// "primary" for bitnami postgresql).
	Path string
	Pool config.Role
}

// Placements returns the placement keys katonic sets for the catalog chart
// id (katonic-domain.md, "placement keys"; each chart's values.yaml), in a
// fixed order. It returns an empty list for charts without pods
// (istio-base) and one top-level platform placement for charts that take
// nodeSelector and tolerations at the top level, Katonic's own included.
func Placements(chartID string) []Placement {
	ps := chartPlacement(chartID)
	out := make([]Placement, len(ps))
	for i, p := range ps {
		out[i] = Placement{Path: p.path, Pool: p.pool}
	}
	return out
}
