package installer

import "strings"

// Why installer keys have no field in a katonic environment. katonic
// renders what Flux installs into an existing cluster (README); the rest of
// the installer's settings belong to provisioning, to the platform at
// runtime, or to charts katonic pins.
const (
	reasonInfra   = "katonic renders what Flux installs into an existing cluster: the cloud account, region, network, cluster creation and its autoscaler are provisioned outside it"
	reasonTLS     = "TLS is taken from Secrets, see README (\"Secrets an environment needs\"): the load balancer terminates TLS with the certificate you provide; katonic renders no certificate issuer"
	reasonMilvus  = "Milvus is not a Katonic service katonic renders"
	reasonTenancy = "multi-tenancy (organisations, per-org namespaces and quotas) is the platform's runtime setting; katonic renders one installation serving one FQDN (seed 000)"
	reasonAdmin   = "the first admin account comes from the Secret keycloak/keycloak-admin; katonic keeps no user data"
	reasonLicense = "the license is given to the platform at runtime; katonic does not handle it"
	reasonVariant = "the variant comes from the license; katonic renders the same services for every variant"
	reasonImages  = "images come from the charts katonic pins (internal/catalog); katonic has no image-registry setting (charts.mirror serves charts from a mirror)"
	reasonBackup  = "katonic renders no backup"
	reasonAirgap  = "katonic has no air-gap switch: set charts.mirror to the private registry that serves the charts"
	reasonPins    = "chart and operator versions are pinned per platform version by katonic's catalog (internal/catalog)"
	reasonSizing  = "katonic's releases use the charts' default sizes and replica counts; there is no setting for them"
	reasonObject  = "katonic renders MinIO (file-manager, mlflow-minio) in the cluster and wires no cloud object storage"
	reasonDB      = "katonic renders the in-cluster PostgreSQL and wires no managed database"
	reasonSMTP    = "katonic renders no SMTP settings"
	reasonOnPrem  = "the on-prem load balancer and storage classes come with the cluster; katonic's on-prem storage service is services.storage (Longhorn)"
	reasonOps     = "katonic fixes its releases' timeouts, logging and tracing (internal/render); there is no setting"
	reasonNetpol  = "network policies are checked by katonic's policies (policy/), not switched on here"
	reasonGrafana = "monitoring is one service (kube-prometheus-stack with Grafana): its retention and Grafana are not set separately"
	reasonUnknown = "katonic has no equivalent setting"
)

// reasonFor says why key has no field: by exact key, then by prefix or
// suffix.
func reasonFor(key string, c *conv) string {
	top, _, _ := strings.Cut(key, ".")
	switch top {
	case "cloud_region", "aws_region", "create_k8s_cluster", "create_cluster", "kubernetes_distribution",
		"node_ips", "ssh_user", "ssh_key_path", "terraform_state", "autoscaler_enable", "pod_cidr", "service_cidr":
		return reasonInfra
	case "private_cluster":
		if c.profile == "cloud" && c.provider == "azure" {
			return reasonInfra + "; a private AKS cluster is profile azure-private: import with --profile azure-private --network vnet=...,cluster=...,jumphost=..."
		}
		return reasonInfra
	case "subdomain_pattern", "deployment_mode", "multi_tenancy", "max_organizations", "wildcard_domain":
		return reasonTenancy
	case "tls_mode", "tls_email", "custom_tls_cert", "custom_tls_key", "tls_cert_path", "tls_key_path":
		return reasonTLS
	case "admin_email", "admin_first_name", "admin_last_name":
		return reasonAdmin
	case "license_file", "license_file_path":
		return reasonLicense
	case "platform_variant":
		return reasonVariant
	case "image_registry", "image_tag", "custom_registry", "private_registry", "image_bundle":
		return reasonImages
	case "mcp_catalog_source":
		return "the MCP catalog is the platform's runtime data; katonic has no setting for it"
	case "airgap_enabled", "air_gap":
		return reasonAirgap
	case "cnpg_version", "mongodb_operator_version", "milvus_operator_version", "istio_version":
		return reasonPins
	case "prometheus_retention", "grafana_enabled":
		return reasonGrafana
	case "helm_timeout", "log_level", "otel_enabled":
		return reasonOps
	case "enable_pre_checks":
		return "katonic's own checks are katonic vet (the rules) and katonic verify (the rendered output); the cluster's pre-flight checks are the installer's"
	case "networkpolicy_enabled":
		return reasonNetpol
	case "object_storage", "object_storage_mode", "minio_storage_size":
		return reasonObject
	case "database_mode":
		return reasonDB
	case "storage_provider", "metallb_address_pool", "skip_metallb":
		return reasonOnPrem
	case "custom_smtp":
		return reasonSMTP
	case "platform_version":
		return "katonic's platformVersion comes from it where it is readable"
	}
	switch {
	case strings.HasPrefix(top, "milvus_"), strings.HasPrefix(top, "org_milvus"), strings.HasPrefix(top, "vectordb"):
		return reasonMilvus
	case strings.HasPrefix(top, "org_"):
		return reasonTenancy
	case strings.HasPrefix(top, "backup_"):
		return reasonBackup
	case strings.HasPrefix(top, "smtp_"):
		return reasonSMTP
	case strings.HasPrefix(top, "managed_db_"):
		return reasonDB
	case strings.HasPrefix(top, "s3_"):
		return reasonObject
	case strings.HasPrefix(top, "azure_"), strings.HasPrefix(top, "gcp_"), strings.HasPrefix(top, "oci_"), strings.HasPrefix(top, "alibaba_"):
		return reasonInfra
	case strings.HasSuffix(top, "_replicas"), strings.HasSuffix(top, "_storage_size"), strings.HasSuffix(top, "_storage"):
		return reasonSizing
	case strings.HasSuffix(top, "_nodes"), top == "node_pools":
		return "katonic's node pools have no such setting (they have node counts, vmSize and bootDiskGiB)"
	}
	return reasonUnknown
}
