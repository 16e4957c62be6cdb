package fit

import (
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

func decodeYAML(t *testing.T, s string) Objects {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	o, err := Decode(m, "x")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestDecode(t *testing.T) {
	sts := decodeYAML(t, `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: minio}
spec:
  replicas: 4
  template:
    spec:
      nodeSelector: {katonic.ai/node-pool: platform}
      tolerations: [{key: katonic.ai/node-pool, operator: Equal, value: platform, effect: NoSchedule}]
      initContainers: [{name: init, image: "busybox:1", resources: {requests: {cpu: 2}}}]
      containers: [{name: minio, image: "quay.io/minio/minio:1", resources: {requests: {memory: 16Gi}}}]
  volumeClaimTemplates:
  - metadata: {name: export}
    spec: {storageClassName: fast, resources: {requests: {storage: 500Gi}}}
`)
	if len(sts.Pods) != 1 || sts.Pods[0].Replicas != 4 || len(sts.Pods[0].Containers) != 2 || !sts.Pods[0].Containers[0].Init ||
		sts.Pods[0].NodeSelector["katonic.ai/node-pool"] != "platform" || len(sts.Pods[0].Tolerations) != 1 {
		t.Errorf("pods = %+v", sts.Pods)
	}
	if c, m := EffectiveRequest(sts.Pods[0].Containers); c != 2000 || m != 16*gib {
		t.Errorf("effective request %d, %d", c, m)
	}
	if len(sts.Claims) != 1 || sts.Claims[0].StorageClass != "fast" || sts.Claims[0].Count != 4 || sts.Claims[0].Size.Value() != 500*gib {
		t.Errorf("claims = %+v", sts.Claims)
	}

	prom := decodeYAML(t, `
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata: {name: p}
spec:
  resources: {requests: {memory: 2Gi}}
  storage:
    volumeClaimTemplate:
      spec: {resources: {requests: {storage: 50Gi}}}
`)
	if len(prom.Pods) != 1 || prom.Pods[0].Replicas != 1 || !prom.Pods[0].Containers[0].OperatorImage || prom.Pods[0].Containers[0].Memory.Value() != 2*gib {
		t.Errorf("prometheus pods = %+v", prom.Pods)
	}
	if len(prom.Claims) != 1 || prom.Claims[0].StorageClass != "" || prom.Claims[0].Size.Value() != 50*gib {
		t.Errorf("prometheus claims = %+v", prom.Claims)
	}

	cron := decodeYAML(t, `
apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec:
  schedule: "* * * * *"
  jobTemplate: {spec: {template: {spec: {containers: [{name: a, image: "a:1"}]}}}}
`)
	if len(cron.Pods) != 1 || cron.Pods[0].Field != "spec.jobTemplate.spec.template.spec" {
		t.Errorf("cron = %+v", cron.Pods)
	}

	ing := decodeYAML(t, `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i}
spec:
  rules:
  - host: k.example
    http:
      paths:
      - {path: /, pathType: Exact, backend: {service: {name: s, port: {number: 80}}}}
      - {path: /x, backend: {service: {name: s, port: {number: 80}}}}
`)
	if len(ing.Routes) != 2 || ing.Routes[0].Match != "Exact" || ing.Routes[1].Match != "ImplementationSpecific" {
		t.Errorf("routes = %+v", ing.Routes)
	}

	vs := decodeYAML(t, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
spec:
  hosts: [k.example]
  http: [{match: [{uri: {exact: /api}}]}]
`)
	if len(vs.Routes) != 1 || !vs.Routes[0].Istio || vs.Routes[0].Match != "exact" {
		t.Errorf("vs = %+v", vs.Routes)
	}

	sc := decodeYAML(t, `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: kfs, annotations: {storageclass.kubernetes.io/is-default-class: "true"}}
provisioner: disk.csi.azure.com
`)
	if len(sc.StorageClasses) != 1 || sc.StorageClasses[0] != "kfs" || !sc.DefaultClass {
		t.Errorf("sc = %+v", sc)
	}

	var m map[string]any
	yaml.Unmarshal([]byte("apiVersion: apps/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{resources: {requests: {cpu: lots}}}]}}}\n"), &m)
	if _, err := Decode(m, "x"); err == nil {
		t.Error("a malformed quantity should be an error")
	}
	yaml.Unmarshal([]byte("apiVersion: v1\nkind: Service\n"), &m)
	if o, err := Decode(m, "x"); err != nil || len(o.Pods)+len(o.Claims)+len(o.Routes) != 0 {
		t.Errorf("a Service yields nothing: %+v, %v", o, err)
	}
}
