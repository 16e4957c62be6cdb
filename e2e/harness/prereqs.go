package harness

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/render"
)

// CreateNodes creates, for every node pool of env, minNodes Node objects
// shaped like the pool's nodes: the pool's labels and taints (as the node
// provisioning sets them, katonic requirements), capacity cpu, memory and
// nvidia.com/gpu from the pool, 110 pods, and kwok's label so kwok keeps
// them Ready. Allocatable is capacity less the system reserve katonic
// assumes (config.NodePool.Allocatable), so the scheduler sees what verify's
// fit layer saw. Node names are <pool>-<i>.
func (c *Cluster) CreateNodes(ctx context.Context, env *config.Environment) ([]string, error) {
	var names []string
	for _, role := range config.Roles {
		pool, ok := env.NodePools[role]
		if !ok {
			continue
		}
		a := pool.Allocatable()
		for i := range pool.MinNodes {
			name := string(role) + "-" + strconv.Itoa(i)
			labels := map[string]string{
				FakeNodeLabel:            "fake",
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			}
			for k, v := range pool.Labels(role) {
				labels[k] = v
			}
			var taints []corev1.Taint
			for _, t := range pool.Taints(role) {
				taints = append(taints, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
			}
			// kwok's own taint keeps other pods off fake nodes unless they
			// tolerate it; katonic's pods do not know it, so the nodes
			// carry only the pool's taints.
			capacity := corev1.ResourceList{
				corev1.ResourceCPU:    *resource.NewQuantity(int64(pool.CPU), resource.DecimalSI),
				corev1.ResourceMemory: *resource.NewQuantity(int64(pool.MemoryGiB)<<30, resource.BinarySI),
				corev1.ResourcePods:   *resource.NewQuantity(110, resource.DecimalSI),
			}
			allocatable := corev1.ResourceList{
				corev1.ResourceCPU:    *resource.NewMilliQuantity(a.MilliCPU, resource.DecimalSI),
				corev1.ResourceMemory: *resource.NewQuantity(a.MemoryMiB<<20, resource.BinarySI),
				corev1.ResourcePods:   *resource.NewQuantity(110, resource.DecimalSI),
			}
			if role == config.RoleGPU && pool.GPUCount > 0 {
				g := *resource.NewQuantity(int64(pool.GPUCount), resource.DecimalSI)
				capacity["nvidia.com/gpu"], allocatable["nvidia.com/gpu"] = g, g
			}
			n := &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels,
					Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"}},
				Spec: corev1.NodeSpec{Taints: taints},
				Status: corev1.NodeStatus{Capacity: capacity, Allocatable: allocatable,
					NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v" + env.KubernetesVersion, OperatingSystem: "linux", Architecture: "amd64"}},
			}
			if _, err := c.Client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
				return nil, fmt.Errorf("node %s: %w", name, err)
			}
			// Status is a subresource: capacity and allocatable are set
			// there, and kwok keeps them while it updates the conditions.
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				cur, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				cur.Status.Capacity, cur.Status.Allocatable, cur.Status.NodeInfo = capacity, allocatable, n.Status.NodeInfo
				_, err = c.Client.CoreV1().Nodes().UpdateStatus(ctx, cur, metav1.UpdateOptions{})
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("node %s status: %w", name, err)
			}
			names = append(names, name)
		}
	}
	return names, nil
}

// CreateSecrets creates every Secret the render references (render.SecretRef,
// the README's Secrets table) with a dummy value per key, creating its
// namespace when the render does not: the Secrets must exist before Flux
// reconciles, and their namespaces with them.
func (c *Cluster) CreateSecrets(ctx context.Context, refs []render.SecretRef) error {
	for _, r := range refs {
		if err := c.EnsureNamespace(ctx, r.Namespace); err != nil {
			return err
		}
		data := map[string][]byte{}
		typ := corev1.SecretTypeOpaque
		for _, k := range r.Keys {
			data[k] = []byte("katonic-e2e-" + k)
		}
		switch {
		case len(r.Keys) == 1 && r.Keys[0] == ".dockerconfigjson":
			typ = corev1.SecretTypeDockerConfigJson
			data[".dockerconfigjson"] = []byte(`{"auths":{}}`)
		case hasKeys(r.Keys, "tls.crt", "tls.key"):
			typ = corev1.SecretTypeTLS
			crt, key, err := selfSigned(r.Name)
			if err != nil {
				return err
			}
			data["tls.crt"], data["tls.key"] = crt, key
		}
		for _, k := range r.Keys {
			if k == "values.yaml" {
				data[k] = []byte("{}\n")
			}
		}
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace}, Type: typ, Data: data}
		if _, err := c.Client.CoreV1().Secrets(r.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("secret %s/%s: %w", r.Namespace, r.Name, err)
		}
	}
	return nil
}

func hasKeys(keys []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, k := range keys {
			found = found || k == w
		}
		if !found {
			return false
		}
	}
	return true
}

// FakeProvisioner is the provisioner name of the StorageClasses the harness
// creates for what the cluster's storage would provide.
const FakeProvisioner = "e2e.katonic.dev/fake"

// CreateStorageClass creates a StorageClass that the cluster would have
// before Flux reconciles, provisioned by the harness's fake provisioner:
// on cloud the provider's default class, on-prem Longhorn's "longhorn"
// class (which longhorn-manager creates from its chart's ConfigMap once it
// runs, and which no simulated pod can).
func (c *Cluster) CreateStorageClass(ctx context.Context, name string, isDefault bool) error {
	wait := storagev1.VolumeBindingWaitForFirstConsumer
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: FakeProvisioner, VolumeBindingMode: &wait}
	if isDefault {
		sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	}
	_, err := c.Client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// Provision runs until ctx ends, binding every claim that waits for an
// external provisioner on a class whose provisioner is not in the cluster
// (kfs's disk.csi.azure.com, the fake one): it creates a PersistentVolume
// of the requested size for the node the scheduler selected, as a CSI
// provisioner would. Errors are retried on the next pass.
func (c *Cluster) Provision(ctx context.Context) {
	for {
		pvcs, err := c.Client.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, pvc := range pvcs.Items {
				c.provisionOne(ctx, &pvc)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (c *Cluster) provisionOne(ctx context.Context, pvc *corev1.PersistentVolumeClaim) {
	if pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.VolumeName != "" {
		return
	}
	node := pvc.Annotations["volume.kubernetes.io/selected-node"]
	if node == "" || pvc.Annotations["volume.kubernetes.io/storage-provisioner"] == "" {
		return
	}
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	class := ""
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	name := "pv-" + string(pvc.UID)
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": pvc.Annotations["volume.kubernetes.io/storage-provisioner"]}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              class,
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/katonic-e2e/" + name}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
		},
	}
	_, _ = c.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
}

// LoadBalancers runs until ctx ends, giving every Service of type
// LoadBalancer an ingress address, as the cloud's load-balancer
// integration (or MetalLB on-prem) would: Helm and Flux count such a
// Service ready only once it has one. The address is on loopback and
// nothing is sent to it; no real load balancer is simulated.
func (c *Cluster) LoadBalancers(ctx context.Context) {
	for {
		svcs, err := c.Client.CoreV1().Services("").List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range svcs.Items {
				s := &svcs.Items[i]
				if s.Spec.Type != corev1.ServiceTypeLoadBalancer || len(s.Status.LoadBalancer.Ingress) > 0 {
					continue
				}
				s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "127.0.0.1"}}
				_, _ = c.Client.CoreV1().Services(s.Namespace).UpdateStatus(ctx, s, metav1.UpdateOptions{})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}
