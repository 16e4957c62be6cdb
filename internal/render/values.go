package render

import (
	"fmt"
	"strings"

	"github.com/katonic/katonic/internal/config"
)

// Databases the platform creates in the shared Postgres (seed 001: Postgres
// holds Keycloak data and experiment metadata). The init script that
// creates them and their users lives in the Secret postgresInitSecret, so
// that no password is written to the repository.
const (
	postgresInitSecret = "postgres-initdb"
	keycloakDatabase   = "keycloak"
	// keycloakAdminSecret holds Keycloak's first admin account.
	keycloakAdminSecret = "keycloak-admin"
	mlflowDatabase      = "mlflow"
	mlflowBucket        = "mlflow"
)

// serviceValues adds the non-placement, non-secret values of one release.
// Every value below is a key of the pinned chart's values.yaml (the chart
// versions of internal/catalog); docs/sizing.md has the sizes.
func (r *renderer) serviceValues(key string, rl release, v values) error {
	env := r.env
	switch rl.name {
	case "istio-istiod":
		// Injected sidecars and gateways take their image from istiod's
		// global.hub (the gateway chart's image is "auto").
		if env.Images.Mirror != "" {
			v.set("global.hub", r.mirrored("docker.io/istio"))
		}
	case "istio-gateway":
		return r.gatewayValues(v)
	case svcPostgres:
		ns := env.Services[svcPostgres].Namespace
		v.set("primary.initdb.scriptsSecret", postgresInitSecret)
		v.set("primary.resources", r.resources(svcPostgres))
		v.set("primary.persistence.size", r.volumeSize(svcPostgres))
		r.bitnamiImages(v, "postgresql", map[string]string{"image": "postgresql", "volumePermissions.image": "os-shell", "metrics.image": "postgres-exporter"})
		dbs := "the keycloak and mlflow databases and users with the passwords of keycloak-credentials and mlflow-credentials"
		if env.Enabled(svcAirbyte) {
			dbs = "the keycloak, mlflow and airbyte databases and users with the passwords of keycloak-credentials, mlflow-credentials and airbyte-credentials (airbyte with CREATEDB: Airbyte's Temporal creates its own databases)"
		}
		r.addSecret(SecretRef{Namespace: ns, Name: postgresInitSecret, Keys: []string{"init.sql"}, Service: svcPostgres,
			Purpose: "SQL run on first start: creates " + dbs})
	case svcMongoDB:
		v.set("resources", r.resources(svcMongoDB))
		v.set("persistence.size", r.volumeSize(svcMongoDB))
		r.bitnamiImages(v, "mongodb", map[string]string{"image": "mongodb", "tls.image": "nginx",
			"externalAccess.autoDiscovery.image": "kubectl", "externalAccess.dnsCheck.image": "os-shell",
			"volumePermissions.image": "os-shell", "metrics.image": "mongodb-exporter"})
	case svcRedis:
		// One Redis: the chart's default replication (a master and three
		// replicas) needs four platform pods for deployment metadata.
		v.set("architecture", "standalone")
		v.set("master.resources", r.resources(svcRedis))
		v.set("master.persistence.size", r.volumeSize(svcRedis))
		r.bitnamiImages(v, "redis", map[string]string{"image": "redis", "sentinel.image": "redis-sentinel",
			"metrics.image": "redis-exporter", "volumePermissions.image": "os-shell", "sysctl.image": "os-shell", "kubectl.image": "kubectl"})
	case svcKeycloak:
		// keycloakx starts nothing by itself (command: []); its README
		// starts the server with kc.sh start behind the chart's proxy
		// settings (proxy.mode forwarded, http enabled on 8080).
		v.set("command", []any{"/opt/keycloak/bin/kc.sh", "start", "--http-port=8080", "--hostname-strict=false"})
		v.set("resources", r.resources(svcKeycloak))
		if env.Images.Mirror != "" {
			v.set("image.repository", r.mirrored("quay.io/keycloak/keycloak"))
			v.set("dbchecker.image.repository", r.mirrored("docker.io/library/busybox"))
		}
		// The first admin account comes from a Secret in Keycloak's
		// namespace, as Keycloak's bootstrap-admin environment variables
		// (Keycloak server guide, "Bootstrapping an admin account");
		// keycloakx passes extraEnvFrom through tpl into the container.
		ns := env.Services[svcKeycloak].Namespace
		v.set("extraEnvFrom", "- secretRef:\n    name: "+keycloakAdminSecret+"\n")
		r.addSecret(SecretRef{Namespace: ns, Name: keycloakAdminSecret,
			Keys: []string{"KC_BOOTSTRAP_ADMIN_PASSWORD", "KC_BOOTSTRAP_ADMIN_USERNAME"}, Service: svcKeycloak,
			Purpose: "Keycloak's first admin account, as its bootstrap-admin environment variables"})
		if env.Enabled(svcPostgres) {
			v.set("database.vendor", "postgres")
			v.set("database.hostname", r.serviceHost(svcPostgres, "postgres-postgresql"))
			v.set("database.port", 5432)
			v.set("database.database", keycloakDatabase)
			v.set("database.username", keycloakDatabase)
		}
	case svcFileManager, svcMLflowMinIO:
		v.set("mode", "standalone")
		v.set("replicas", 1)
		v.set("resources", r.resources(rl.name))
		v.set("persistence.size", r.volumeSize(rl.name))
		if env.Images.Mirror != "" {
			v.set("image.repository", r.mirrored("quay.io/minio/minio"))
			v.set("mcImage.repository", r.mirrored("quay.io/minio/mc"))
		}
		var buckets []any
		if rl.name == svcMLflowMinIO {
			buckets = append(buckets, map[string]any{"name": mlflowBucket, "policy": "none", "purge": false})
		}
		if rl.name == svcFileManager && env.Enabled(svcAirbyte) {
			// Airbyte keeps its logs and state in the file manager
			// (airbyteValues).
			for _, b := range []string{airbyteLogBucket, airbyteStateBucket} {
				buckets = append(buckets, map[string]any{"name": b, "policy": "none", "purge": false})
			}
		}
		if len(buckets) > 0 {
			v.set("buckets", buckets)
		}
	case svcMLflow:
		if env.Images.Mirror != "" {
			v.set("image.repository", r.mirrored("docker.io/burakince/mlflow"))
		}
		if env.Enabled(svcPostgres) {
			v.set("backendStore.databaseMigration", true)
			v.set("backendStore.postgres.enabled", true)
			v.set("backendStore.postgres.host", r.serviceHost(svcPostgres, "postgres-postgresql"))
			v.set("backendStore.postgres.port", 5432)
			v.set("backendStore.postgres.database", mlflowDatabase)
			v.set("backendStore.postgres.user", mlflowDatabase)
		}
		if env.Enabled(svcMLflowMinIO) {
			v.set("artifactRoot.s3.enabled", true)
			v.set("artifactRoot.s3.bucket", mlflowBucket)
			v.set("extraEnvVars.MLFLOW_S3_ENDPOINT_URL", "http://"+r.serviceHost(svcMLflowMinIO, "mlflow-minio")+":9000")
		}
	case svcMonitoring:
		r.prometheusValues(v)
	case svcKatonicUI, svcKatonicAPI:
		// Katonic's private charts: the platform FQDN (seeds 000, 001, 003),
		// and the conventional global.imageRegistry for a mirror.
		v.set("domain", env.Domain)
		if env.Images.Mirror != "" {
			v.set("global.imageRegistry", env.Images.Mirror)
		}
	case svcSuperset:
		host := env.DashHost()
		v.set("ingress.enabled", true)
		v.set("ingress.ingressClassName", ingressClass)
		v.set("ingress.path", "/")
		// Prefix: Istio's Ingress support matches ImplementationSpecific
		// "/" exactly, and the web application serves /static/ and /api/.
		v.set("ingress.pathType", "Prefix")
		v.set("ingress.hosts", []any{host})
		v.set("ingress.tls", []any{map[string]any{"secretName": r.tlsSecret(key, "superset-tls", host), "hosts": []any{host}}})
		v.set("global.security.allowInsecureImages", true)
		v.set("postgresql.image.repository", "bitnamilegacy/postgresql")
		v.set("redis.image.repository", "bitnamilegacy/redis")
		if m := env.Images.Mirror; m != "" {
			v.set("global.imageRegistry", m)
			v.set("image.repository", r.mirrored("docker.io/apache/superset"))
			v.set("initImage.repository", r.mirrored("docker.io/apache/superset"))
		}
	case svcAirbyte:
		r.airbyteValues(key, v)
	case svcStorage:
		r.longhornValues(v)
	}
	return nil
}

// Airbyte's buckets in the file manager's MinIO: the chart's default log
// bucket name is replaced, its state bucket name is fixed
// (STATE_STORAGE_MINIO_BUCKET_NAME in templates/env-configmap.yaml).
const (
	airbyteLogBucket   = "airbyte-logs"
	airbyteStateBucket = "airbyte-state-storage"
	airbyteDatabase    = "airbyte"
)

// airbyteValues configures Airbyte 0.43.33 (chart v1). The chart's own
// database and MinIO are StatefulSets whose templates take no nodeSelector,
// tolerations or storage class (templates/airbyte-db.yaml, minio.yaml), so
// they would land on any untainted node: Airbyte uses the platform's shared
// Postgres and the file manager's MinIO instead, when they are on.
func (r *renderer) airbyteValues(key string, v values) {
	env := r.env
	host := env.ConnectorsHost()
	v.set("webapp.ingress.enabled", true)
	v.set("webapp.ingress.className", ingressClass)
	v.set("webapp.ingress.hosts", []any{map[string]any{"host": host,
		"paths": []any{map[string]any{"path": "/", "pathType": "Prefix"}}}})
	v.set("webapp.ingress.tls", []any{map[string]any{"secretName": r.tlsSecret(key, "airbyte-tls", host), "hosts": []any{host}}})
	if env.Enabled(svcPostgres) {
		v.set("postgresql.enabled", false)
		v.set("externalDatabase.host", r.serviceHost(svcPostgres, "postgres-postgresql"))
		v.set("externalDatabase.port", 5432)
		v.set("externalDatabase.database", airbyteDatabase)
		v.set("externalDatabase.user", airbyteDatabase)
	}
	if env.Enabled(svcFileManager) {
		v.set("minio.enabled", false)
		v.set("global.logs.minio.enabled", false)
		v.set("global.logs.externalMinio.enabled", true)
		v.set("global.logs.externalMinio.host", r.serviceHost(svcFileManager, "file-manager-minio"))
		v.set("global.logs.externalMinio.port", 9000)
		v.set("global.logs.s3.bucket", airbyteLogBucket)
	}
	// The pod sweeper's default image is bitnami/kubectl:latest: pinned, in
	// Bitnami's legacy repository.
	v.set("pod-sweeper.image.repository", r.mirrored("docker.io/bitnamilegacy/kubectl"))
	v.set("pod-sweeper.image.tag", airbyteKubectlTag)
	if env.Images.Mirror != "" {
		for _, c := range []struct{ key, repo string }{
			{"webapp", "airbyte/webapp"}, {"server", "airbyte/server"}, {"worker", "airbyte/worker"},
			{"airbyte-bootloader", "airbyte/bootloader"}, {"temporal", "airbyte/temporal-auto-setup"},
			{"cron", "airbyte/cron"}, {"metrics", "airbyte/metrics-reporter"},
			{"connector-builder-server", "airbyte/connector-builder-server"},
		} {
			v.set(c.key+".image.repository", r.mirrored("docker.io/"+c.repo))
		}
	}
}

// airbyteKubectlTag is the kubectl image of Bitnami's charts of the same
// era (mongodb 16.5.0's externalAccess.autoDiscovery.image).
const airbyteKubectlTag = "1.32.3-debian-12-r2"

// bitnamiImages points every image of a Bitnami chart (values key ->
// image name) at docker.io/bitnamilegacy, where Bitnami moved its
// versioned images in August 2025 (katonic-domain.md, "Supply risks"), or
// at the image mirror through the chart's global.imageRegistry. The charts
// refuse substituted images unless global.security.allowInsecureImages is
// set (common.errors.insecureImages in their NOTES.txt).
func (r *renderer) bitnamiImages(v values, chart string, images map[string]string) {
	v.set("global.security.allowInsecureImages", true)
	if m := r.env.Images.Mirror; m != "" {
		v.set("global.imageRegistry", m)
	}
	for _, k := range sortedKeys(images) {
		v.set(k+".repository", "bitnamilegacy/"+images[k])
	}
}

// Prometheus keeps 15 days of metrics (kube-prometheus-stack's default
// retention) in a volume, bounded to 90% of it so a full volume never
// stops the server.
const prometheusRetention = "15d"

func (r *renderer) prometheusValues(v values) {
	size := r.volumeSize(svcMonitoring)
	var gib int
	fmt.Sscanf(size, "%dGi", &gib)
	v.set("prometheus.prometheusSpec.resources", r.resources(svcMonitoring))
	v.set("prometheus.prometheusSpec.retention", prometheusRetention)
	v.set("prometheus.prometheusSpec.retentionSize", fmt.Sprintf("%dGB", max(gib*9/10, 1)))
	v.set("prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec", map[string]any{
		"accessModes": []any{"ReadWriteOnce"},
		"resources":   map[string]any{"requests": map[string]any{"storage": size}},
	})
	if m := r.env.Images.Mirror; m != "" {
		v.set("global.imageRegistry", m)
	}
}

// mirrored returns image repository repo ("quay.io/minio/mc",
// "docker.io/airbyte/server") under the environment's image mirror, with
// the registry host replaced and the path kept (config.Images), or repo
// itself when no mirror is set.
func (r *renderer) mirrored(repo string) string {
	m := r.env.Images.Mirror
	if m == "" {
		return repo
	}
	if i := strings.Index(repo, "/"); i > 0 && strings.ContainsAny(repo[:i], ".:") {
		repo = repo[i+1:]
	}
	return m + "/" + repo
}

// serviceHost is the in-cluster DNS name of a chart's Service.
func (r *renderer) serviceHost(key, svc string) string {
	return svc + "." + r.env.Services[key].Namespace + ".svc.cluster.local"
}

// tlsSecret records and returns a TLS Secret name for host. Istio's Ingress
// support reads certificates from the ingress gateway's namespace.
func (r *renderer) tlsSecret(key, name, host string) string {
	ns := r.env.Services[svcIstio].Namespace
	if ns == "" {
		ns = "istio-system"
	}
	r.addSecret(SecretRef{Namespace: ns, Name: name, Keys: []string{"tls.crt", "tls.key"}, Service: key,
		Purpose: "kubernetes.io/tls certificate for " + host})
	return name
}

// internalLBAnnotation is the Service annotation that makes a cloud load
// balancer internal (private IP inside the VNet/VPC; seed 003 "internal"),
// per provider: AKS, EKS (AWS Load Balancer Controller) and GKE docs.
func internalLBAnnotation(env *config.Environment) (map[string]string, bool) {
	provider := env.Provider
	if env.Profile == config.ProfileAzurePrivate {
		provider = "azure"
	}
	switch provider {
	case "azure":
		return map[string]string{"service.beta.kubernetes.io/azure-load-balancer-internal": "true"}, true
	case "aws":
		return map[string]string{"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}, true
	case "gcp":
		return map[string]string{"networking.gke.io/load-balancer-type": "Internal"}, true
	}
	return nil, false
}

// gatewayValues configures the Istio ingress gateway's Service: a
// LoadBalancer on cloud and azure-private (internal when asked), and on
// onprem a NodePort with fixed ports for the external load balancer of seed
// 001, which forwards 80 and 443 to the platform nodes.
func (r *renderer) gatewayValues(v values) error {
	env := r.env
	v.set("name", gatewayName)
	switch env.Profile {
	case config.ProfileOnPrem:
		v.set("service.type", "NodePort")
		v.set("service.ports", []any{
			map[string]any{"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021},
			map[string]any{"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": GatewayHTTPNodePort},
			map[string]any{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443, "nodePort": GatewayHTTPSNodePort},
		})
	default:
		v.set("service.type", "LoadBalancer")
		if env.LoadBalancer == "internal" {
			a, ok := internalLBAnnotation(env)
			if !ok {
				return fmt.Errorf("loadBalancer: no internal load balancer annotation for provider %q", env.Provider)
			}
			ann := map[string]any{}
			for _, k := range sortedKeys(a) {
				ann[k] = a[k]
			}
			v.set("service.annotations", ann)
		}
	}
	return nil
}

// Longhorn replica count: seed 000 recommends at least three storage nodes,
// so each volume keeps three replicas, one per storage node.
const longhornReplicas = 3

// longhornValues places Longhorn for the on-prem storage pool. The UI runs on
// the storage pool (chartPlacement); the manager and CSI driver must run on
// every node that mounts volumes, so they tolerate the taints of every pool
// instead of selecting one; disks are only created on nodes labelled
// node.longhorn.io/create-default-disk=true, which the storage nodes must
// carry (Longhorn docs, "Create Default Disk on Labeled Nodes").
func (r *renderer) longhornValues(v values) {
	var all []config.Taint
	for _, role := range config.Roles {
		pool, ok := r.env.NodePools[role]
		if !ok {
			continue
		}
		all = append(all, pool.Taints(role)...)
	}
	var setting []string
	for _, t := range all {
		setting = append(setting, t.Key+"="+t.Value+":"+t.Effect)
	}
	tol := tolerations(all)
	if len(tol) > 0 {
		v.set("longhornManager.tolerations", tol)
		v.set("longhornDriver.tolerations", tol)
		v.set("defaultSettings.taintToleration", strings.Join(setting, ";"))
	}
	v.set("defaultSettings.createDefaultDiskLabeledNodes", true)
	if m := r.env.Images.Mirror; m != "" {
		v.set("privateRegistry.registryUrl", m)
	}
	v.set("defaultSettings.defaultReplicaCount", longhornReplicas)
	v.set("persistence.defaultClassReplicaCount", longhornReplicas)
}
