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
func (r *renderer) serviceValues(key string, rl release, v values) error {
	env := r.env
	switch rl.name {
	case "istio-gateway":
		return r.gatewayValues(v)
	case svcPostgres:
		ns := env.Services[svcPostgres].Namespace
		v.set("primary.initdb.scriptsSecret", postgresInitSecret)
		r.addSecret(SecretRef{Namespace: ns, Name: postgresInitSecret, Keys: []string{"init.sql"}, Service: svcPostgres,
			Purpose: "SQL run on first start: creates the keycloak and mlflow databases and users with the passwords of keycloak-credentials and mlflow-credentials"})
	case svcKeycloak:
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
		if rl.name == svcMLflowMinIO {
			v.set("buckets", []any{map[string]any{"name": mlflowBucket, "policy": "none", "purge": false}})
		}
	case svcMLflow:
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
	case svcKatonicUI, svcKatonicAPI:
		// Katonic's private charts: the platform FQDN (seeds 000, 001, 003).
		v.set("domain", env.Domain)
	case svcSuperset:
		host := env.DashHost()
		v.set("ingress.enabled", true)
		v.set("ingress.ingressClassName", ingressClass)
		v.set("ingress.path", "/")
		v.set("ingress.hosts", []any{host})
		v.set("ingress.tls", []any{map[string]any{"secretName": r.tlsSecret(key, "superset-tls", host), "hosts": []any{host}}})
	case svcAirbyte:
		host := env.ConnectorsHost()
		v.set("webapp.ingress.enabled", true)
		v.set("webapp.ingress.className", ingressClass)
		v.set("webapp.ingress.hosts", []any{map[string]any{"host": host,
			"paths": []any{map[string]any{"path": "/", "pathType": "ImplementationSpecific"}}}})
		v.set("webapp.ingress.tls", []any{map[string]any{"secretName": r.tlsSecret(key, "airbyte-tls", host), "hosts": []any{host}}})
	case svcStorage:
		r.longhornValues(v)
	}
	return nil
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
	v.set("defaultSettings.defaultReplicaCount", longhornReplicas)
	v.set("persistence.defaultClassReplicaCount", longhornReplicas)
}
