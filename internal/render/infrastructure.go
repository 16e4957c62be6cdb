package render

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/katonic/katonic/internal/config"
)

// defaultNamespace always exists; rendering it as a Namespace object would
// let Flux's prune try to delete it, so it is never rendered.
const defaultNamespace = "default"

// serviceNamespaces returns the sorted, unique namespaces of enabled
// services, "default" included.
func (r *renderer) serviceNamespaces() []string {
	set := map[string]bool{}
	for _, s := range services() {
		if r.env.Enabled(s.key) {
			set[r.env.Services[s.key].Namespace] = true
		}
	}
	return sortedKeys(set)
}

func (r *renderer) namespaceLabels() map[string]string {
	return map[string]string{EnvironmentLabel: r.env.Name, ManagedByLabel: ManagedByValue}
}

// namespaces renders a Namespace for every enabled service's namespace but
// "default" (seed 001, "Pre Deployed Services", for the namespaces).
func (r *renderer) namespaces() []any {
	var out []any
	for _, ns := range r.serviceNamespaces() {
		if ns == defaultNamespace {
			continue
		}
		out = append(out, &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: r.namespaceLabels()},
		})
	}
	return out
}

// webhookPort is a pod that the Kubernetes API server calls (an admission or
// conversion webhook). The API server does not run in a labelled namespace,
// so these pods admit ingress from anywhere on their webhook ports.
type webhookPort struct {
	service string            // services key owning the pod
	name    string            // NetworkPolicy name
	pods    map[string]string // pod labels
	ports   []int32           // nil: every port
}

// webhooks lists the API-server-called pods of the charts katonic installs
// (Istio sidecar injector on istiod:15017; prometheus-operator admission
// webhook on :10250; Longhorn's admission and conversion webhooks inside
// longhorn-manager; KFP's cache webhook on cache-server:8443).
func webhooks() []webhookPort {
	return []webhookPort{
		{svcIstio, "allow-istiod-webhook", map[string]string{"app": "istiod"}, []int32{15017}},
		{svcMonitoring, "allow-operator-webhook", map[string]string{"app": "kube-prometheus-stack-operator"}, []int32{10250}},
		{svcStorage, "allow-longhorn-manager", map[string]string{"app": "longhorn-manager"}, nil},
		{svcPipelines, "allow-cache-webhook", map[string]string{"app": "cache-server"}, []int32{8443}},
	}
}

// networkPolicies renders, in every service namespace (default included):
// default-deny-ingress, and allow-from-katonic-namespaces admitting pods of
// the same namespace, of every namespace labelled with this environment
// (which includes monitoring, so Prometheus can scrape) and of "default"
// when the file manager runs there. In istio-system the
// ingress gateway pods admit all ingress: the load balancer forwards to them
// (seeds 000, 001, 003). Webhook pods admit the API server (see webhooks).
// Source: seeds 000, 001, 003, "Katonic relies on Kubernetes network policies".
func (r *renderer) networkPolicies() []any {
	ingressOnly := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	np := func(ns, name string, pods map[string]string, rules []networkingv1.NetworkPolicyIngressRule) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: pods},
				PolicyTypes: ingressOnly,
				Ingress:     rules,
			},
		}
	}
	peers := []networkingv1.NetworkPolicyPeer{
		{PodSelector: &metav1.LabelSelector{}},
		{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{EnvironmentLabel: r.env.Name}}},
	}
	namespaces := r.serviceNamespaces()
	for _, ns := range namespaces {
		// "default" is never rendered, so it lacks the environment label:
		// admit it by the name label Kubernetes sets on every namespace.
		if ns == defaultNamespace {
			peers = append(peers, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: defaultNamespace}}})
		}
	}
	var out []any
	for _, ns := range namespaces {
		out = append(out,
			np(ns, "default-deny-ingress", nil, nil),
			np(ns, "allow-from-katonic-namespaces", nil, []networkingv1.NetworkPolicyIngressRule{{From: peers}}),
		)
		if r.env.Enabled(svcIstio) && ns == r.env.Services[svcIstio].Namespace {
			out = append(out, np(ns, "allow-ingress-gateway", gatewayPodLabels(),
				[]networkingv1.NetworkPolicyIngressRule{{}}))
		}
		for _, w := range webhooks() {
			if !r.env.Enabled(w.service) || r.env.Services[w.service].Namespace != ns {
				continue
			}
			rule := networkingv1.NetworkPolicyIngressRule{}
			for _, p := range w.ports {
				port := intstr.FromInt32(p)
				tcp := corev1.ProtocolTCP
				rule.Ports = append(rule.Ports, networkingv1.NetworkPolicyPort{Protocol: &tcp, Port: &port})
			}
			out = append(out, np(ns, w.name, w.pods, []networkingv1.NetworkPolicyIngressRule{rule}))
		}
	}
	return out
}

// Azure StorageClasses (seed 003, "Dynamic block storage" and "Dynamic
// shared storage").
const (
	// KFSStorageClass is the default block StorageClass of seed 003.
	KFSStorageClass = "kfs"
	// KFSSharedStorageClass is the optional Azure Files class of seed 003.
	KFSSharedStorageClass = "kfs-shared"
)

// storageClasses renders kfs exactly as seed 003 gives it, and kfs-shared on
// Azure Files when env.SharedStorage. Seed 003's kfs-shared YAML is a copy of
// kfs (disk.csi.azure.com, named kfs) although its text says "based on the
// Azure file system": katonic follows the text, with file.csi.azure.com, the
// Standard_LRS SKU and the mount options of AKS's built-in azurefile-csi
// class, and does not make it default (seed 003: "only kfs storage class is
// default").
func storageClasses(env *config.Environment) []any {
	del := corev1.PersistentVolumeReclaimDelete
	yes := true
	sc := func(name string) *storagev1.StorageClass {
		return &storagev1.StorageClass{TypeMeta: metav1.TypeMeta{APIVersion: "storage.k8s.io/v1", Kind: "StorageClass"},
			ObjectMeta: metav1.ObjectMeta{Name: name}, ReclaimPolicy: &del, AllowVolumeExpansion: &yes}
	}
	kfs := sc(KFSStorageClass)
	kfs.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	kfs.Provisioner = "disk.csi.azure.com"
	kfs.Parameters = map[string]string{"skuname": "StandardSSD_LRS"}
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	kfs.VolumeBindingMode = &wffc
	out := []any{kfs}
	if env.SharedStorage {
		sh := sc(KFSSharedStorageClass)
		sh.Provisioner = "file.csi.azure.com"
		sh.Parameters = map[string]string{"skuName": "Standard_LRS"}
		imm := storagev1.VolumeBindingImmediate
		sh.VolumeBindingMode = &imm
		sh.MountOptions = []string{"dir_mode=0777", "file_mode=0777", "uid=0", "gid=0", "mfsymlinks", "cache=strict", "actimeo=30", "nosharesock"}
		out = append(out, sh)
	}
	return out
}
