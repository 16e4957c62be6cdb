package installer

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/katonic/katonic/internal/config"
)

// versionKeys maps a provider (as providerOf returns it, or the raw
// lower-cased cloud name) to its installer key for the managed Kubernetes
// version.
var versionKeys = map[string]string{
	"aws": "eks_version", "azure": "aks_version", "gcp": "gke_version",
	"oci": "oke_version", "alibaba": "ack_version", "sccc": "ack_version",
}

// kubernetesKeys orders the installer's Kubernetes version keys: the
// generic one, then the provider's own, then the others (reported as
// unmapped when present).
func kubernetesKeys(cloud string) []string {
	keys := []string{"kubernetes_version"}
	if k, ok := versionKeys[cloud]; ok {
		keys = append(keys, k)
	}
	for _, k := range []string{"eks_version", "aks_version", "gke_version", "oke_version", "ack_version"} {
		if !contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// cloudName is the lower-cased cloud of it ("aws", "oci", "sccc"...).
func cloudName(it *item) string {
	if it == nil {
		return ""
	}
	s, _ := it.str()
	return strings.ToLower(strings.TrimSpace(s))
}

// katonicYML maps the nested katonic.yml format.
func (c *conv) katonicYML() error {
	if err := c.setName(c.get("cluster_name")); err != nil {
		return err
	}
	cp := c.get("cloud_provider")
	c.setProfile(cp)
	c.setPlatformVersion(c.get("image_tag"))
	c.setKubernetes(kubernetesKeys(cloudName(cp))...)

	d := c.get("domain")
	s := ""
	if d != nil {
		s, _ = d.str()
	}
	if s == "" {
		return fmt.Errorf("%s: no domain: katonic.yml requires one (the platform FQDN)", c.opts.File)
	}
	c.mapped(d, "domain", "")
	c.top["domain"] = &val{v: s, from: d}

	if np := c.get("node_pools"); np != nil {
		for _, name := range c.subKeys(np) {
			c.readPool(name, c.get("node_pools."+name))
		}
	}
	c.gpu("gpu_enabled", func(p *pool) {
		var items []*item
		for _, k := range []string{"gpu_node_count", "gpu_instance_type"} {
			if it := c.get(k); it != nil {
				items = append(items, it)
			}
		}
		c.readPoolFields(p, items, func(it *item) string { return strings.TrimPrefix(it.key, "gpu_") })
	})
	// Bare metal: the control-plane nodes are the master pool.
	if cpIPs := c.get("node_ips.control_plane"); cpIPs != nil && c.allowed(config.RoleMaster) {
		if n, ok := cpIPs.seqLen(); ok && n > 0 {
			p := c.pool(config.RoleMaster, cpIPs)
			p.f["minNodes"] = &val{v: n, from: cpIPs, notes: []string{"the number of control-plane nodes"}}
			p.f["maxNodes"] = &val{v: n, from: cpIPs}
			c.mapped(cpIPs, "nodePools.master.minNodes, nodePools.master.maxNodes", "the number of control-plane nodes")
		}
	}
	c.commonServices("monitoring_enabled", "database_mode", "object_storage")
	return nil
}

// inventory maps the flat Ansible inventory format.
func (c *conv) inventory() error {
	if err := c.setName(c.get("cluster_name")); err != nil {
		return err
	}
	do := c.get("deploy_on")
	c.setProfile(do)
	c.setPlatformVersion(c.get("platform_version"))
	c.setKubernetes(kubernetesKeys(cloudName(do))...)
	if err := c.inventoryDomain(); err != nil {
		return err
	}
	if lb := c.get("internal_loadbalancer"); lb != nil {
		if b, ok := lb.boolean(); ok {
			v := "external"
			if b {
				v = "internal"
			}
			c.mapped(lb, "loadBalancer", "")
			c.top["loadBalancer"] = &val{v: v, from: lb}
		}
	}
	for _, k := range c.d.top {
		name, ok := strings.CutSuffix(k, "_nodes")
		if !ok || name == "gpu" || c.creds[k] {
			continue
		}
		it := c.get(k)
		if it.value.Kind != yaml.MappingNode {
			continue
		}
		c.readPool(name, it)
	}
	c.gpu("gpu_enabled", func(p *pool) {
		if it := c.get("gpu_nodes"); it != nil {
			p.from = it
			c.readPoolFields(p, c.d.children(it.key), func(x *item) string { return x.key[len(it.key)+1:] })
		}
	})
	c.commonServices("enable_monitoring", "database_mode", "object_storage_mode")
	return nil
}

// inventoryDomain: use_custom_domain ? custom_domain_name :
// katonic_domain_prefix + ".katonic.ai" (seed 003: Azure may use Katonic's
// default .katonic.ai domain).
func (c *conv) inventoryDomain() error {
	custom := false
	uc := c.get("use_custom_domain")
	if uc != nil {
		custom, _ = uc.boolean()
	}
	if custom {
		it := c.get("custom_domain_name")
		s := ""
		if it != nil {
			s, _ = it.str()
		}
		if s == "" {
			return fmt.Errorf("%s:%d:%d: use_custom_domain is true but custom_domain_name is empty: no domain", c.opts.File, uc.line, uc.column)
		}
		c.mapped(uc, "domain", "true: custom_domain_name")
		c.mapped(it, "domain", "")
		c.top["domain"] = &val{v: s, from: it}
		for _, k := range []string{"use_katonic_domain", "katonic_domain_prefix"} {
			if x := c.get(k); x != nil {
				c.unmapped(x, "use_custom_domain is true: the domain is custom_domain_name")
			}
		}
		return nil
	}
	it := c.get("katonic_domain_prefix")
	s := ""
	if it != nil {
		s, _ = it.str()
	}
	if s == "" {
		return fmt.Errorf("%s: no domain: use_custom_domain is not true and katonic_domain_prefix is empty", c.opts.File)
	}
	if uc != nil {
		c.mapped(uc, "domain", "false: katonic_domain_prefix."+katonicDomain)
	}
	if uk := c.get("use_katonic_domain"); uk != nil {
		c.mapped(uk, "domain", "")
	}
	if cd := c.get("custom_domain_name"); cd != nil {
		c.unmapped(cd, "use_custom_domain is not true: the domain is katonic_domain_prefix."+katonicDomain)
	}
	c.mapped(it, "domain", "+ ."+katonicDomain)
	c.top["domain"] = &val{v: s + "." + katonicDomain, from: it, notes: []string{"katonic_domain_prefix + \"." + katonicDomain + "\" (use_custom_domain is not true)"}}
	return nil
}

// gpu reads the gpu pool with read when the installer's gpu_enabled is
// true; otherwise every gpu key is unmapped.
func (c *conv) gpu(enabledKey string, read func(*pool)) {
	on := false
	en := c.get(enabledKey)
	if en != nil {
		on, _ = en.boolean()
	}
	if on && c.allowed(config.RoleGPU) {
		c.mapped(en, "nodePools.gpu", "")
		read(c.pool(config.RoleGPU, en))
		return
	}
	reason := "gpu_enabled is false: no gpu pool"
	if on {
		reason = fmt.Sprintf("profile %s has no gpu pool [%s]", c.profile, c.rules.PoolsSource)
	}
	for _, it := range c.d.leaves {
		top, _, _ := strings.Cut(it.key, ".")
		if strings.HasPrefix(top, "gpu_") && !c.used[it.key] && !c.creds[it.key] {
			c.unmapped(it, reason)
		}
	}
}

// subKeys returns the keys of the mapping at it, in file order.
func (c *conv) subKeys(it *item) []string {
	var out []string
	for i := 0; i+1 < len(it.value.Content); i += 2 {
		out = append(out, it.value.Content[i].Value)
	}
	return out
}

// commonServices maps the monitoring switch, the database mode and the
// object storage of either format.
func (c *conv) commonServices(monitoringKey, databaseKey, storageKey string) {
	if it := c.get(monitoringKey); it != nil {
		if b, ok := it.boolean(); ok {
			c.setService("monitoring", it, b, "")
		}
	}
	if it := c.get(databaseKey); it != nil {
		s, _ := it.str()
		switch strings.ReplaceAll(strings.ToLower(s), "-", "_") {
		case "in_cluster":
			c.setService("postgres", it, true, "in-cluster PostgreSQL")
		case "managed":
			c.unmapped(it, "katonic renders the in-cluster PostgreSQL (services.postgres) and wires no managed database: it stays on")
		}
	}
	if it := c.get(storageKey); it != nil {
		s, _ := it.str()
		switch strings.ToLower(s) {
		case "minio":
			c.setService("file-manager", it, true, "MinIO")
		default:
			c.unmapped(it, "katonic renders MinIO (file-manager, mlflow-minio) in the cluster and wires no cloud object storage: they stay on")
		}
	}
}
