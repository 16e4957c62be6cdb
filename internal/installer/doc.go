// Package installer converts a Katonic installer configuration (Katonic
// platform v7's own installer files, not katonic's) into a katonic
// environment: the CUE source of environments/<name>.cue and a report of
// what was mapped, adjusted to katonic's rules, added, left unmapped, and
// which credentials the operator must put into which Secrets.
//
// Two formats are read, told apart by their keys (see Detect):
//
//   - katonic.yml (FormatKatonicYML): nested; cloud_provider, domain,
//     cluster_name, kubernetes_version, node_pools.<pool>.{count,
//     instance_type, disk_size_gb}, gpu_*, monitoring_enabled.
//   - the Ansible inventory (FormatAnsibleInventory): flat; deploy_on,
//     platform_version, <pool>_nodes.{instance_type, min_count, max_count,
//     os_disk_size}, use_custom_domain / custom_domain_name /
//     katonic_domain_prefix, internal_loadbalancer, enable_monitoring.
//
// Convert is pure (no I/O): it takes the file's bytes and the rules of the
// configuration repository (profiles/ through internal/load, the VM sizes of
// schema/vmsizes.cue) and returns the CUE source, formatted by CUE's own
// printer, and the Report. A credential's value is never copied: not into
// the CUE, its comments, or the report.
package installer
