package fit

import (
	"encoding/json"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Container is one container of a pod, as the rules see it.
type Container struct {
	Name  string
	Image string
	// Init marks an init container; Sidecar an init container with
	// restartPolicy Always (a native sidecar, which keeps running beside the
	// app containers).
	Init, Sidecar bool
	// CPU and Memory are the container's requests; zero when unset.
	CPU, Memory resource.Quantity
	// OperatorImage: the image is the one an operator sets, not the
	// object: a Prometheus without spec.image, or Istio's "auto" that the
	// sidecar injector replaces. The image rules skip it.
	OperatorImage bool
}

// Pod is one pod template of an object.
type Pod struct {
	// What names the object for findings, e.g. "service minio, chart minio
	// 5.4.0: StatefulSet/minio (minio/templates/statefulset.yaml)".
	What string
	// Kind is the object's kind; Field the path of the pod spec in it
	// ("spec.template.spec"), for messages.
	Kind, Field string
	// Replicas is how many pods run at once: spec.replicas (default 1) for
	// Deployments, StatefulSets, ReplicaSets and the operators' resources;
	// 1 for Jobs, CronJobs and Pods. Unused for DaemonSets.
	Replicas int
	// DaemonSet: one pod per node it can run on; exempt from fit.placement.
	DaemonSet bool
	// NodeAgent, when set, is why the pod runs wherever its chart's node
	// agent runs (render.Release.NodeAgents): exempt from fit.placement and
	// from the pool totals (short-lived hooks), still checked for size
	// against every pool it can run on.
	NodeAgent    string
	NodeSelector map[string]string
	Tolerations  []corev1.Toleration
	Containers   []Container
}

// Claim is one PersistentVolumeClaim, or Count claims of one template.
type Claim struct {
	// What names the claim for findings.
	What string
	// StorageClass is spec.storageClassName; "" asks for the default class.
	StorageClass string
	// Size is resources.requests.storage; Count how many claims the template
	// makes (a StatefulSet's replicas), 1 for a standalone claim.
	Size  resource.Quantity
	Count int
}

// Route is one path of an Ingress or one uri match of a VirtualService.
type Route struct {
	What string
	// Host is the host the route serves; "" for every host.
	Host string
	Path string
	// Match is the Ingress pathType (Prefix, Exact, ImplementationSpecific)
	// or the VirtualService uri match (exact, prefix, regex).
	Match string
	// Istio marks a VirtualService route.
	Istio bool
}

// Objects are what the rules read from a set of Kubernetes objects.
type Objects struct {
	Pods   []Pod
	Claims []Claim
	Routes []Route
	// StorageClasses are the names of the StorageClasses created; Default
	// whether one is annotated storageclass.kubernetes.io/is-default-class.
	StorageClasses []string
	DefaultClass   bool
}

// Add appends o's contents to os.
func (os *Objects) Add(o Objects) {
	os.Pods = append(os.Pods, o.Pods...)
	os.Claims = append(os.Claims, o.Claims...)
	os.Routes = append(os.Routes, o.Routes...)
	os.StorageClasses = append(os.StorageClasses, o.StorageClasses...)
	os.DefaultClass = os.DefaultClass || o.DefaultClass
}

// operatorSpec is the part of a monitoring.coreos.com/v1 Prometheus or
// Alertmanager spec that decides its pods (prometheus-operator API
// reference): the operator runs spec.replicas (default 1) pods of
// spec.image with spec.resources, and one claim per pod from
// spec.storage.volumeClaimTemplate.
type operatorSpec struct {
	Replicas     *int32                      `json:"replicas"`
	Shards       *int32                      `json:"shards"`
	Image        string                      `json:"image"`
	NodeSelector map[string]string           `json:"nodeSelector"`
	Tolerations  []corev1.Toleration         `json:"tolerations"`
	Resources    corev1.ResourceRequirements `json:"resources"`
	Storage      *struct {
		VolumeClaimTemplate struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec corev1.PersistentVolumeClaimSpec `json:"spec"`
		} `json:"volumeClaimTemplate"`
	} `json:"storage"`
}

// Decode reads one Kubernetes object (as decoded from YAML or JSON) into
// Objects, naming every pod, claim and route what. Pod sources are
// Deployment, StatefulSet (and its volumeClaimTemplates), DaemonSet, Job,
// CronJob, ReplicaSet, Pod and the monitoring.coreos.com Prometheus and
// Alertmanager resources; claims come from PersistentVolumeClaims and those
// templates; routes from Ingresses and networking.istio.io VirtualServices.
// Other kinds yield nothing. It returns an error when the object does not
// decode into its Kubernetes type (a malformed quantity or toleration).
func Decode(obj map[string]any, what string) (Objects, error) {
	kind, _ := obj["kind"].(string)
	apiVersion, _ := obj["apiVersion"].(string)
	group := ""
	if i := strings.IndexByte(apiVersion, '/'); i >= 0 {
		group = apiVersion[:i]
	}
	var out Objects
	into := func(v any) error {
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("%s: %v", what, err)
		}
		return nil
	}
	replicas := func(r *int32) int {
		if r == nil {
			return 1
		}
		return int(*r)
	}
	switch {
	case group == "apps" && kind == "Deployment":
		var d appsv1.Deployment
		if err := into(&d); err != nil {
			return out, err
		}
		out.Pods = append(out.Pods, pod(what, kind, "spec.template.spec", replicas(d.Spec.Replicas), d.Spec.Template.Spec))
	case group == "apps" && kind == "ReplicaSet":
		var d appsv1.ReplicaSet
		if err := into(&d); err != nil {
			return out, err
		}
		out.Pods = append(out.Pods, pod(what, kind, "spec.template.spec", replicas(d.Spec.Replicas), d.Spec.Template.Spec))
	case group == "apps" && kind == "StatefulSet":
		var s appsv1.StatefulSet
		if err := into(&s); err != nil {
			return out, err
		}
		n := replicas(s.Spec.Replicas)
		out.Pods = append(out.Pods, pod(what, kind, "spec.template.spec", n, s.Spec.Template.Spec))
		for _, t := range s.Spec.VolumeClaimTemplates {
			out.Claims = append(out.Claims, claim(what+" volumeClaimTemplate "+t.Name, t.Spec, n))
		}
	case group == "apps" && kind == "DaemonSet":
		var d appsv1.DaemonSet
		if err := into(&d); err != nil {
			return out, err
		}
		p := pod(what, kind, "spec.template.spec", 1, d.Spec.Template.Spec)
		p.DaemonSet = true
		out.Pods = append(out.Pods, p)
	case group == "batch" && kind == "Job":
		var j batchv1.Job
		if err := into(&j); err != nil {
			return out, err
		}
		out.Pods = append(out.Pods, pod(what, kind, "spec.template.spec", 1, j.Spec.Template.Spec))
	case group == "batch" && kind == "CronJob":
		var j batchv1.CronJob
		if err := into(&j); err != nil {
			return out, err
		}
		out.Pods = append(out.Pods, pod(what, kind, "spec.jobTemplate.spec.template.spec", 1, j.Spec.JobTemplate.Spec.Template.Spec))
	case group == "" && kind == "Pod":
		var p corev1.Pod
		if err := into(&p); err != nil {
			return out, err
		}
		out.Pods = append(out.Pods, pod(what, kind, "spec", 1, p.Spec))
	case group == "" && kind == "PersistentVolumeClaim":
		var c corev1.PersistentVolumeClaim
		if err := into(&c); err != nil {
			return out, err
		}
		out.Claims = append(out.Claims, claim(what, c.Spec, 1))
	case group == "monitoring.coreos.com" && (kind == "Prometheus" || kind == "Alertmanager"):
		var r struct {
			Spec operatorSpec `json:"spec"`
		}
		if err := into(&r); err != nil {
			return out, err
		}
		n := replicas(r.Spec.Replicas)
		if kind == "Prometheus" {
			n *= replicas(r.Spec.Shards)
		}
		c := Container{Name: strings.ToLower(kind), Image: r.Spec.Image,
			CPU: r.Spec.Resources.Requests[corev1.ResourceCPU], Memory: r.Spec.Resources.Requests[corev1.ResourceMemory]}
		p := Pod{What: what, Kind: kind, Field: "spec", Replicas: n, NodeSelector: r.Spec.NodeSelector,
			Tolerations: r.Spec.Tolerations, Containers: []Container{c}}
		// Without spec.image the operator runs the image it pins itself.
		p.Containers[0].OperatorImage = r.Spec.Image == ""
		out.Pods = append(out.Pods, p)
		if r.Spec.Storage != nil {
			t := r.Spec.Storage.VolumeClaimTemplate
			out.Claims = append(out.Claims, claim(what+" spec.storage.volumeClaimTemplate", t.Spec, n))
		}
	case group == "networking.k8s.io" && kind == "Ingress":
		var in networkingv1.Ingress
		if err := into(&in); err != nil {
			return out, err
		}
		for _, r := range in.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				m := "ImplementationSpecific" // the API server's default
				if p.PathType != nil {
					m = string(*p.PathType)
				}
				out.Routes = append(out.Routes, Route{What: what, Host: r.Host, Path: p.Path, Match: m})
			}
		}
	case group == "networking.istio.io" && kind == "VirtualService":
		var vs struct {
			Spec struct {
				Hosts []string `json:"hosts"`
				HTTP  []struct {
					Match []struct {
						URI map[string]string `json:"uri"`
					} `json:"match"`
				} `json:"http"`
			} `json:"spec"`
		}
		if err := into(&vs); err != nil {
			return out, err
		}
		for _, h := range vs.Spec.Hosts {
			for _, r := range vs.Spec.HTTP {
				for _, m := range r.Match {
					for typ, p := range m.URI {
						out.Routes = append(out.Routes, Route{What: what, Host: h, Path: p, Match: typ, Istio: true})
					}
				}
			}
		}
	case group == "storage.k8s.io" && kind == "StorageClass":
		var sc storagev1.StorageClass
		if err := into(&sc); err != nil {
			return out, err
		}
		out.StorageClasses = append(out.StorageClasses, sc.Name)
		out.DefaultClass = sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true"
	}
	return out, nil
}

func pod(what, kind, field string, replicas int, s corev1.PodSpec) Pod {
	p := Pod{What: what, Kind: kind, Field: field, Replicas: replicas, NodeSelector: s.NodeSelector, Tolerations: s.Tolerations}
	for _, c := range s.InitContainers {
		p.Containers = append(p.Containers, container(c, true))
	}
	for _, c := range s.Containers {
		p.Containers = append(p.Containers, container(c, false))
	}
	return p
}

// istioInjected is the image Istio's gateway chart gives its proxy
// container: the sidecar injector replaces it with istiod's proxy image
// (Istio "Installing Gateways", gateway injection).
const istioInjected = "auto"

func container(c corev1.Container, init bool) Container {
	return Container{Name: c.Name, Image: c.Image, Init: init, OperatorImage: c.Image == istioInjected,
		Sidecar: init && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways,
		CPU:     c.Resources.Requests[corev1.ResourceCPU], Memory: c.Resources.Requests[corev1.ResourceMemory]}
}

func claim(what string, s corev1.PersistentVolumeClaimSpec, n int) Claim {
	c := Claim{What: what, Size: s.Resources.Requests[corev1.ResourceStorage], Count: n}
	if s.StorageClassName != nil {
		c.StorageClass = *s.StorageClassName
	}
	return c
}
