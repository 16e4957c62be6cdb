package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gonvenience/ytbx"
)

const (
	acmeSuperset = "environments/acme-azure/addons/superset.yaml"
	acmeAirbyte  = "environments/acme-azure/addons/airbyte.yaml"
	acmeIstio    = "environments/acme-azure/platform/istio.yaml"
	acmePostgres = "environments/acme-azure/platform/postgres.yaml"
	acmeSources  = "environments/acme-azure/infrastructure/sources.yaml"
	acmeNS       = "environments/acme-azure/infrastructure/namespaces.yaml"
	acmeUI       = "environments/acme-azure/platform/katonic-ui.yaml"
	acmeMLflow   = "environments/acme-azure/platform/mlflow.yaml"
	teslaSuper   = "environments/tesla-onprem/addons/superset.yaml"
	acmeInternal = "      annotations:\n        service.beta.kubernetes.io/azure-load-balancer-internal: \"true\"\n"
	acmeMonitor  = "environments/acme-azure/platform/monitoring.yaml"
	acmeKPlat    = "environments/acme-azure/platform/kustomization.yaml"
	acmeClasses  = "environments/acme-azure/infrastructure/storage-classes.yaml"
	globexSrc    = "environments/globex-cloud/infrastructure/sources.yaml"
	teslaPG      = "environments/tesla-onprem/platform/postgres.yaml"
	teslaStorage = "environments/tesla-onprem/infrastructure/storage.yaml"
	kfpUsers     = "applied by Kustomization/flux-system/pipelines, Kustomization/flux-system/pipelines-cluster"
)

// risks lists every risk of rep as "env ref class level" (ref "-" for
// environment-level risks, the file for kustomization files' risks),
// sorted.
func risks(rep *Report) []string {
	var out []string
	for _, e := range rep.Envs {
		for _, r := range e.Risks {
			out = append(out, strings.Join([]string{e.Name, "-", r.Class, r.Level}, " "))
		}
		for _, f := range e.Files {
			for _, r := range f.Risks {
				out = append(out, strings.Join([]string{e.Name, f.Where(), r.Class, r.Level}, " "))
			}
		}
		for _, o := range e.Objects {
			for _, r := range o.Risks {
				out = append(out, strings.Join([]string{e.Name, o.Ref(), r.Class, r.Level}, " "))
			}
		}
	}
	sort.Strings(out)
	return out
}

// findObject returns the ObjectDiff ref of env in rep, or nil.
func findObject(rep *Report, env, ref string) *ObjectDiff {
	for _, e := range rep.Envs {
		for i, o := range e.Objects {
			if e.Name == env && o.Ref() == ref {
				return &e.Objects[i]
			}
		}
	}
	return nil
}

// outputs renders rep in the three formats.
func outputs(t *testing.T, rep *Report) (text, md, js string) {
	t.Helper()
	var a, b, c bytes.Buffer
	if err := rep.WriteText(&a, false); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteMarkdown(&b, 0); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&c); err != nil {
		t.Fatal(err)
	}
	return a.String(), b.String(), c.String()
}

// wantField is a FieldChange expected on object ref of environment env.
type wantField struct {
	env, ref string
	fc       FieldChange
}

func TestRiskClasses(t *testing.T) {
	var airbyteFC, postgresFC FieldChange
	tests := []struct {
		name   string
		mutate func(t *testing.T, from, to Side)
		want   []string // every risk, as risks() writes them
		// field, when set, must be among the object's FieldChanges.
		field *wantField
		// message, when set, must be part of the first risk's message.
		message string
		// hidden must appear in no output.
		hidden []string
		// dyn, when set, replaces field.fc once mutate ran (versions
		// read from the render).
		dyn *FieldChange
	}{
		{
			name: "deleted: HelmRelease file removed",
			mutate: func(t *testing.T, from, to Side) {
				delete(to.Files, acmeAirbyte)
			},
			want:    []string{"acme-azure HelmRelease/flux-system/airbyte deleted high"},
			message: "Kustomization/flux-system/addons has prune: true, so Flux deletes it from the cluster",
		},
		{
			name: "deleted: Namespace removed under prune",
			mutate: func(t *testing.T, from, to Side) {
				dropDoc(t, to, acmeNS, func(d string) bool { return strings.Contains(d+"\n", "  name: airbyte\n") })
			},
			want:    []string{"acme-azure Namespace/airbyte deleted high"},
			message: "Kustomization/flux-system/infrastructure has prune: true, so Flux deletes the namespace and everything in it",
		},
		{
			name: "prune: Flux Kustomization prune true → false",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, "clusters/acme-azure/platform.yaml", "prune: true", "prune: false", 1)
			},
			want: []string{"acme-azure Kustomization/flux-system/platform prune high"},
			field: &wantField{"acme-azure", "Kustomization/flux-system/platform",
				FieldChange{Path: "spec.prune", Change: FieldModified, Old: "true", New: "false"}},
		},
		{
			name: "chart-major: HelmRelease chart version",
			mutate: func(t *testing.T, from, to Side) {
				old, cur := bumpVersion(t, to, acmeAirbyte, "kind: HelmRelease", "version", false)
				airbyteFC = FieldChange{Path: "spec.chart.spec.version", Change: FieldModified, Old: old, New: cur}
			},
			want:  []string{"acme-azure HelmRelease/flux-system/airbyte chart-major high"},
			field: &wantField{"acme-azure", "HelmRelease/flux-system/airbyte", FieldChange{}},
			dyn:   &airbyteFC,
		},
		{
			name: "chart-major: OCIRepository tag",
			mutate: func(t *testing.T, from, to Side) {
				bumpVersion(t, to, acmeSources, "name: bitnami-postgresql", "tag", false)
			},
			want: []string{"acme-azure OCIRepository/flux-system/bitnami-postgresql chart-major high"},
		},
		{
			name: "chart minor version: a change, no risk",
			mutate: func(t *testing.T, from, to Side) {
				old, cur := bumpVersion(t, to, acmeSources, "name: bitnami-postgresql", "tag", true)
				postgresFC = FieldChange{Path: "spec.ref.tag", Change: FieldModified, Old: old, New: cur}
			},
			want:  nil,
			field: &wantField{"acme-azure", "OCIRepository/flux-system/bitnami-postgresql", FieldChange{}},
			dyn:   &postgresFC,
		},
		{
			name: "node-pool: pool removed, capacity reduced",
			mutate: func(t *testing.T, from, to Side) {
				e := to.Envs["acme-azure"]
				delete(e.NodePools, "gpu")
				p := e.NodePools["compute"]
				p.MaxNodes, p.CPU = 5, 4
				e.NodePools["compute"] = p
			},
			want:    []string{"acme-azure - node-pool high", "acme-azure - node-pool high"},
			message: "node pool compute capacity reduced: maxNodes 10 → 5, cpu 8 → 4",
		},
		{
			name: "node-pool: capacity raised, no risk and no change",
			mutate: func(t *testing.T, from, to Side) {
				e := to.Envs["acme-azure"]
				p := e.NodePools["compute"]
				p.MaxNodes = 20
				e.NodePools["compute"] = p
			},
			want: nil,
		},
		{
			name: "exposure: load balancer internal → external (environment rule wins)",
			mutate: func(t *testing.T, from, to Side) {
				to.Envs["acme-azure"].LoadBalancer = "external"
				replace(t, to, acmeIstio, acmeInternal, "", 1)
			},
			want:    []string{"acme-azure - exposure high"},
			message: "load balancer internal → external",
		},
		{
			name: "exposure: load balancer external → internal, no object changed",
			mutate: func(t *testing.T, from, to Side) {
				to.Envs["globex-cloud"].LoadBalancer = "internal"
			},
			want:    []string{"globex-cloud - exposure high"},
			message: "load balancer external → internal",
		},
		{
			name: "exposure: gateway loses its internal annotation, no environments given",
			mutate: func(t *testing.T, from, to Side) {
				clear(from.Envs)
				clear(to.Envs)
				replace(t, to, acmeIstio, acmeInternal, "", 1)
			},
			want: []string{"acme-azure HelmRelease/flux-system/istio-gateway exposure high"},
			field: &wantField{"acme-azure", "HelmRelease/flux-system/istio-gateway",
				FieldChange{Path: "spec.values.service.annotations", Change: FieldRemoved,
					Old: `{service.beta.kubernetes.io/azure-load-balancer-internal: "true"}`}},
		},
		{
			name: "exposure: new public host on an external load balancer",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, teslaSuper, "      - dash-katonic.tesla.com\n      ingressClassName", "      - dash-katonic.tesla.com\n      - extra.tesla.com\n      ingressClassName", 1)
			},
			want:    []string{"tesla-onprem HelmRelease/flux-system/superset exposure medium"},
			message: "new public host extra.tesla.com",
		},
		{
			name: "exposure: new host behind an internal load balancer, no risk",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeSuperset, "      - dash-katonic.acme.example\n      ingressClassName", "      - dash-katonic.acme.example\n      - extra.acme.example\n      ingressClassName", 1)
			},
			want: nil,
		},
		{
			name: "dns: host replaced",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeSuperset, "dash-katonic.acme.example", "dash.katonic.acme.example", -1)
			},
			want:    []string{"acme-azure HelmRelease/flux-system/superset dns high"},
			message: "host dash-katonic.acme.example replaced (new: dash.katonic.acme.example)",
			field: &wantField{"acme-azure", "HelmRelease/flux-system/superset",
				FieldChange{Path: "spec.values.ingress.hosts[0]", Change: FieldModified, Old: "dash-katonic.acme.example", New: "dash.katonic.acme.example"}},
		},
		{
			name: "dns: platform domain of Katonic's chart changed",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeUI, "domain: katonic.acme.example", "domain: platform.acme.example", 1)
			},
			want: []string{"acme-azure HelmRelease/flux-system/katonic-ui dns high"},
		},
		{
			name: "dns: in-cluster Service host changed, no risk",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeMLflow, "host: postgres-postgresql.application.svc.cluster.local", "host: pg.application.svc.cluster.local", 1)
			},
			want: nil,
		},
		{
			name: "tls: ingress TLS entry removed",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeAirbyte, "        tls:\n        - hosts:\n          - connectors-katonic.acme.example\n          secretName: airbyte-tls\n", "", 1)
			},
			want: []string{"acme-azure HelmRelease/flux-system/airbyte tls high"},
		},
		{
			name: "tls and dns: whole ingress block removed",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeSuperset, "    ingress:\n      enabled: true\n      hosts:\n      - dash-katonic.acme.example\n      ingressClassName: istio\n      path: /\n      pathType: Prefix\n      tls:\n      - hosts:\n        - dash-katonic.acme.example\n        secretName: superset-tls\n", "", 1)
			},
			want: []string{"acme-azure HelmRelease/flux-system/superset dns high", "acme-azure HelmRelease/flux-system/superset tls high"},
		},
		{
			name: "tls: ingress TLS list emptied",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeSuperset, "      tls:\n      - hosts:\n        - dash-katonic.acme.example\n        secretName: superset-tls\n", "      tls: []\n", 1)
			},
			want: []string{"acme-azure HelmRelease/flux-system/superset tls high"},
		},
		{
			name: "secret-ref: valuesFrom name changed, value hidden",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmePostgres, "name: postgres-credentials", "name: pg-shadow-creds", 1)
			},
			want: []string{"acme-azure HelmRelease/flux-system/postgres secret-ref medium"},
			field: &wantField{"acme-azure", "HelmRelease/flux-system/postgres",
				FieldChange{Path: "spec.valuesFrom", Change: FieldModified, Redacted: true}},
			hidden: []string{"pg-shadow-creds", "postgres-credentials"},
		},
		{
			name: "secret-ref: one key of a multi-entry valuesFrom changed, entry name hidden",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeAirbyte, "valuesKey: minio-secret-key", "valuesKey: minio-shadow-key", 1)
			},
			want: []string{"acme-azure HelmRelease/flux-system/airbyte secret-ref medium"},
			field: &wantField{"acme-azure", "HelmRelease/flux-system/airbyte",
				FieldChange{Path: "spec.valuesFrom", Change: FieldModified, Redacted: true}},
			hidden: []string{"minio-shadow-key", "minio-secret-key", "airbyte-credentials"},
		},
		{
			name: "Secret data changed: value hidden, no reference risk",
			mutate: func(t *testing.T, from, to Side) {
				const s = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: extra\n  namespace: application\ndata:\n  password: %s\nstringData:\n  token: %s\n"
				from.Files["environments/acme-azure/infrastructure/secrets.yaml"] = fmt.Appendf(nil, s, "b2xkLXNlY3JldA==", "old-token-value")
				to.Files["environments/acme-azure/infrastructure/secrets.yaml"] = fmt.Appendf(nil, s, "bmV3LXNlY3JldA==", "new-token-value")
			},
			want: nil,
			field: &wantField{"acme-azure", "Secret/application/extra",
				FieldChange{Path: "data.password", Change: FieldModified, Redacted: true}},
			hidden: []string{"b2xkLXNlY3JldA==", "bmV3LXNlY3JldA==", "old-token-value", "new-token-value"},
		},
		{
			name: "source-major: GitRepository tag, with the Kustomizations that apply it",
			mutate: func(t *testing.T, from, to Side) {
				bumpVersion(t, to, acmeSources, "name: kubeflow-pipelines", "tag", false)
			},
			want:    []string{"acme-azure GitRepository/flux-system/kubeflow-pipelines source-major high"},
			message: "spec.ref.tag 2.3.0 → 3.0.0 changes the major version of what Flux applies from this source (" + kfpUsers + ")",
		},
		{
			name: "source-major: GitRepository tag to an open semver range",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeSources, "    tag: 2.3.0\n", "    semver: '>=2.3.0'\n", 1)
			},
			want:    []string{"acme-azure GitRepository/flux-system/kubeflow-pipelines source-major high"},
			message: "spec.ref.tag 2.3.0 → spec.ref.semver >=2.3.0 admits major version 3, outside 2.3.0,",
		},
		{
			name: "source-major: GitRepository tag to a range within its major, no risk",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeSources, "    tag: 2.3.0\n", "    semver: ~2.3\n", 1)
			},
			want: nil,
		},
		{
			name: "source-major: GitRepository minor tag, no risk",
			mutate: func(t *testing.T, from, to Side) {
				bumpVersion(t, to, acmeSources, "name: kubeflow-pipelines", "tag", true)
			},
			want: nil,
		},
		{
			name: "source-major: OCIRepository of manifests (no chart)",
			mutate: func(t *testing.T, from, to Side) {
				const src = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: manifests\n  namespace: flux-system\nspec:\n  interval: 1h\n  url: oci://registry.example/manifests\n  ref:\n    semver: %s\n"
				from.Files["environments/acme-azure/infrastructure/extra.yaml"] = fmt.Appendf(nil, src, "1.x")
				to.Files["environments/acme-azure/infrastructure/extra.yaml"] = fmt.Appendf(nil, src, "2.x")
			},
			want:    []string{"acme-azure OCIRepository/flux-system/manifests source-major high"},
			message: "spec.ref.semver 1.x → 2.x admits major version 2, outside 1.x, of what Flux applies from this source (no Flux Kustomization of the environment uses it)",
		},
		{
			name: "chart-major: OCIRepository semver range admitting the next major",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeSources, "    tag: 16.7.0\n", "    semver: '>=16.7.0 <18.0.0'\n", 1)
			},
			want:    []string{"acme-azure OCIRepository/flux-system/bitnami-postgresql chart-major high"},
			message: "admits chart major version 17, outside 16.7.0",
		},
		{
			name: "crds: Istio base moves its CRDs from crds/ to templates",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, globexSrc, "    tag: 1.20.8\n  url: oci://registry.istio.io/release/charts/base\n", "    tag: 1.26.8\n  url: oci://registry.istio.io/release/charts/base\n", 1)
			},
			want:    []string{"globex-cloud OCIRepository/flux-system/istio-base crds high"},
			message: "chart base 1.20.8 → 1.26.8 moves its CRDs from crds/ to templates",
		},
		{
			name: "crds: crds/ directory replaced by Flux (CreateReplace)",
			mutate: func(t *testing.T, from, to Side) {
				bumpVersion(t, to, acmeMonitor, "kind: HelmRelease", "version", true)
			},
			want:    []string{"acme-azure HelmRelease/flux-system/monitoring crds medium"},
			message: "chart kube-prometheus-stack 88.0.0 → 88.1.0 (katonic's catalog knows kube-prometheus-stack 88.0.0) ships its CRDs in crds/ and HelmRelease/flux-system/monitoring has spec.upgrade.crds CreateReplace",
		},
		{
			name: "crds: crds/ directory never upgraded (spec.upgrade.crds unset)",
			mutate: func(t *testing.T, from, to Side) {
				bumpVersion(t, to, acmeMonitor, "kind: HelmRelease", "version", true)
				replace(t, to, acmeMonitor, "    cleanupOnFail: true\n    crds: CreateReplace\n", "    cleanupOnFail: true\n", 1)
			},
			want:    []string{"acme-azure HelmRelease/flux-system/monitoring crds high"},
			message: "HelmRelease/flux-system/monitoring has spec.upgrade.crds unset (Skip)",
		},
		{
			name: "crds: CRDs as templates (Longhorn)",
			mutate: func(t *testing.T, from, to Side) {
				bumpVersion(t, to, teslaStorage, "kind: HelmRelease", "version", true)
			},
			want:    []string{"tesla-onprem HelmRelease/flux-system/storage crds medium"},
			message: "ships its CRDs as templates: Helm upgrades them with the release, cluster-wide",
		},
		{
			name: "storage: volume shrunk",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, teslaPG, "size: 17Gi", "size: 10Gi", 1)
			},
			want:    []string{"tesla-onprem HelmRelease/flux-system/postgres storage high"},
			message: "volume size 17Gi → 10Gi at spec.values.primary.persistence.size: a PersistentVolumeClaim cannot shrink",
		},
		{
			name: "storage: volume grown",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, teslaPG, "size: 17Gi", "size: 30Gi", 1)
			},
			want:    []string{"tesla-onprem HelmRelease/flux-system/postgres storage medium"},
			message: "volume size 17Gi → 30Gi at spec.values.primary.persistence.size: existing claims grow only where their StorageClass allows volume expansion",
		},
		{
			name: "storage: the same size written otherwise, no risk",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, teslaPG, "size: 17Gi", "size: 17408Mi", 1)
			},
			want: nil,
		},
		{
			name: "storage: volumeClaimTemplate request shrunk (Prometheus)",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeMonitor, "storage: 50Gi", "storage: 40Gi", 1)
			},
			want:    []string{"acme-azure HelmRelease/flux-system/monitoring storage high"},
			message: "at spec.values.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage",
		},
		{
			name: "storage: storage class set in values",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmePostgres, "      persistence:\n        size: 20Gi\n", "      persistence:\n        size: 20Gi\n        storageClass: kfs-shared\n", 1)
			},
			want:    []string{"acme-azure HelmRelease/flux-system/postgres storage high"},
			message: "storage class unset → kfs-shared at spec.values.primary.persistence.storageClass",
		},
		{
			name: "storage: persistence turned off",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmePostgres, "      persistence:\n        size: 20Gi\n", "      persistence:\n        enabled: false\n        size: 20Gi\n", 1)
			},
			want:    []string{"acme-azure HelmRelease/flux-system/postgres storage high"},
			message: "persistence unset → false at spec.values.primary.persistence.enabled",
		},
		{
			name: "storage: PersistentVolumeClaim class and size",
			mutate: func(t *testing.T, from, to Side) {
				const pvc = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  namespace: application\nspec:\n  storageClassName: %s\n  resources:\n    requests:\n      storage: %s\n"
				from.Files["environments/acme-azure/infrastructure/claims.yaml"] = fmt.Appendf(nil, pvc, "kfs", "10Gi")
				to.Files["environments/acme-azure/infrastructure/claims.yaml"] = fmt.Appendf(nil, pvc, "kfs-shared", "5Gi")
			},
			want: []string{"acme-azure PersistentVolumeClaim/application/data storage high", "acme-azure PersistentVolumeClaim/application/data storage high"},
		},
		{
			name: "storage: StorageClass parameters and default class changed",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeClasses, "skuname: StandardSSD_LRS", "skuname: Premium_LRS", 1)
				replace(t, to, acmeClasses, "is-default-class: \"true\"", "is-default-class: \"false\"", 1)
			},
			want:    []string{"acme-azure StorageClass/kfs storage high", "acme-azure StorageClass/kfs storage medium"},
			message: "StorageClass kfs: parameters cannot change",
		},
		{
			name: "node-pool: gpu type changes the pool's label and taint",
			mutate: func(t *testing.T, from, to Side) {
				p := to.Envs["acme-azure"].NodePools["gpu"]
				p.GPUType = "a100"
				to.Envs["acme-azure"].NodePools["gpu"] = p
			},
			want:    []string{"acme-azure - node-pool high"},
			message: "node pool gpu: label katonic.ai/gpu-type v100 → a100; taints katonic.ai/gpu-type=v100:NoSchedule, nvidia.com/gpu=true:NoSchedule → katonic.ai/gpu-type=a100:NoSchedule, nvidia.com/gpu=true:NoSchedule",
		},
		{
			name: "node-pool: placement moved to another pool it can run on",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmePostgres, "      nodeSelector:\n        katonic.ai/node-pool: platform\n      persistence", "      nodeSelector:\n        katonic.ai/node-pool: compute\n      persistence", 1)
			},
			want:    []string{"acme-azure HelmRelease/flux-system/postgres node-pool medium"},
			message: "placement changed at spec.values.primary (nodeSelector): its pods are recreated on the nodes it now selects",
		},
		{
			name: "node-pool: placement on a pool the environment lacks",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmePostgres, "      nodeSelector:\n        katonic.ai/node-pool: platform\n      persistence", "      nodeSelector:\n        katonic.ai/node-pool: deployment\n      persistence", 1)
			},
			want:    []string{"acme-azure HelmRelease/flux-system/postgres node-pool high"},
			message: "it selects node pool deployment, which the environment does not have, so its pods stay Pending",
		},
		{
			name: "node-pool: placement on a tainted pool it does not tolerate",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, teslaPG, "      nodeSelector:\n        katonic.ai/node-pool: platform\n      persistence", "      nodeSelector:\n        katonic.ai/node-pool: deployment\n      persistence", 1)
			},
			want:    []string{"tesla-onprem HelmRelease/flux-system/postgres node-pool high"},
			message: "it selects node pool deployment and does not tolerate its taint katonic.ai/node-pool=deployment:NoSchedule",
		},
		{
			name: "kustomize file: a resource dropped while its file stays",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeKPlat, "- redis.yaml\n", "", 1)
			},
			want:    []string{"acme-azure platform/kustomization.yaml deleted high"},
			message: "resources no longer lists redis.yaml, which is still in the tree: Flux stops applying its 1 object (HelmRelease/flux-system/redis); Kustomization/flux-system/platform has prune: true",
		},
		{
			name: "kustomize file: a resource dropped with its file, shown by the objects only",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeKPlat, "- redis.yaml\n", "", 1)
				delete(to.Files, "environments/acme-azure/platform/redis.yaml")
			},
			want: []string{"acme-azure HelmRelease/flux-system/redis deleted high"},
		},
		{
			name: "object moved to another file: (file) field",
			mutate: func(t *testing.T, from, to Side) {
				to.Files["environments/acme-azure/platform/database.yaml"] = to.Files[acmePostgres]
				delete(to.Files, acmePostgres)
			},
			want: nil,
			field: &wantField{"acme-azure", "HelmRelease/flux-system/postgres",
				FieldChange{Path: "(file)", Change: FieldModified, Old: acmePostgres, New: "environments/acme-azure/platform/database.yaml"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			from, to := base(t), base(t)
			tc.mutate(t, from, to)
			rep, err := Compare(from, to, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := risks(rep)
			sort.Strings(tc.want)
			if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("risks:\n got %q\nwant %q", got, tc.want)
			}
			if tc.message != "" {
				found := false
				for _, e := range rep.Envs {
					for _, r := range e.Risks {
						found = found || strings.Contains(r.Message, tc.message)
					}
					for _, o := range e.Objects {
						for _, r := range o.Risks {
							found = found || strings.Contains(r.Message, tc.message)
						}
					}
					for _, f := range e.Files {
						for _, r := range f.Risks {
							found = found || strings.Contains(r.Message, tc.message)
						}
					}
				}
				if !found {
					t.Errorf("no risk message contains %q", tc.message)
				}
			}
			if tc.field != nil {
				if tc.dyn != nil {
					tc.field.fc = *tc.dyn
				}
				o := findObject(rep, tc.field.env, tc.field.ref)
				if o == nil {
					t.Fatalf("no object %s in %s", tc.field.ref, tc.field.env)
				}
				found := false
				for _, f := range o.Fields {
					found = found || f == tc.field.fc
				}
				if !found {
					t.Errorf("fields of %s: %+v, want among them %+v", tc.field.ref, o.Fields, tc.field.fc)
				}
			}
			text, md, js := outputs(t, rep)
			for _, h := range tc.hidden {
				for name, out := range map[string]string{"text": text, "markdown": md, "json": js} {
					if strings.Contains(out, h) {
						t.Errorf("%s output shows %q:\n%s", name, h, out)
					}
				}
			}
			// Every risk reaches every format.
			for _, r := range got {
				class := strings.Fields(r)[2]
				if !strings.Contains(text, " "+class+"]") || !strings.Contains(md, "`"+class+"`") || !strings.Contains(js, `"class": "`+class+`"`) {
					t.Errorf("risk class %s missing from an output", class)
				}
			}
		})
	}
}

func TestUnchanged(t *testing.T) {
	rep, err := Compare(base(t), base(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Envs) != 0 || rep.SchemaVersion != SchemaVersion {
		t.Fatalf("report of identical trees: %+v", rep)
	}
	if e, o, h, m := rep.Counts(); e+o+h+m != 0 {
		t.Errorf("Counts() = %d, %d, %d, %d", e, o, h, m)
	}
	text, md, js := outputs(t, rep)
	if text != "no changes\n" {
		t.Errorf("text = %q", text)
	}
	if !strings.Contains(md, "No changes.") {
		t.Errorf("markdown = %q", md)
	}
	if !strings.Contains(js, `"environments": []`) {
		t.Errorf("json = %q", js)
	}
}

func TestEnvironmentAddedRemoved(t *testing.T) {
	from, to := base(t), base(t)
	removeEnv(to, "globex-cloud")
	renameEnv(to, "tesla-onprem", "tesla-two")
	rep, err := Compare(from, to, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range rep.Envs {
		names = append(names, e.Name+":"+e.Change)
		if len(e.Objects) < 50 {
			t.Errorf("%s: %d objects, want every object of the environment", e.Name, len(e.Objects))
		}
		for _, o := range e.Objects {
			if o.Change != e.Change {
				t.Errorf("%s: object %s is %s in a %s environment", e.Name, o.Ref(), o.Change, e.Change)
			}
			if strings.HasPrefix(o.APIVersion, kustomizeAPIPrefix) {
				t.Errorf("%s: kustomize file %s listed as an object", e.Name, o.File)
			}
			if e.Change == ChangeRemoved && len(o.Risks) > 0 {
				t.Errorf("%s: removed object %s has risks %+v: the environment risk stands for them", e.Name, o.Ref(), o.Risks)
			}
		}
		if len(e.Files) > 0 {
			t.Errorf("%s: kustomization files %+v listed for a whole environment", e.Name, e.Files)
		}
	}
	if want := []string{"globex-cloud:removed", "tesla-two:added"}; !reflect.DeepEqual(names, want) {
		t.Errorf("environments = %v, want %v", names, want)
	}
	got := risks(rep)
	for _, want := range []string{
		"globex-cloud - environment high",
		"tesla-two - environment medium",
		// tesla-onprem is external: its public hosts are new in tesla-two.
		"tesla-two HelmRelease/flux-system/superset exposure medium",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("risks %q lack %q", got, want)
		}
	}
	if n := strings.Count(strings.Join(got, "\n"), "globex-cloud "); n != 1 {
		t.Errorf("the removed environment has %d risks, want 1: %q", n, got)
	}
	msg := rep.Envs[0].Risks[0].Message
	for _, want := range []string{"clusters/globex-cloud/", "4 Flux Kustomizations (infrastructure, pipelines, pipelines-cluster, platform)", "prune: true", "the whole installation"} {
		if !strings.Contains(msg, want) {
			t.Errorf("removed environment's risk %q lacks %q", msg, want)
		}
	}

	// Text folds the objects into a count by kind; Markdown lists them in
	// one block; JSON lists each.
	text, md, js := outputs(t, rep)
	if strings.Contains(text, "[HIGH deleted]") || strings.Contains(text, "- Namespace/") {
		t.Errorf("text lists the removed environment's objects:\n%s", text)
	}
	if !strings.Contains(text, "\n  removed: 1 GitRepository, 13 HelmRelease, ") {
		t.Errorf("text lacks the removed objects by kind:\n%s", text)
	}
	if !strings.Contains(md, "<details><summary>globex-cloud (removed): 55 objects</summary>") || !strings.Contains(md, "\n- Namespace/monitoring (infrastructure/namespaces)\n") {
		t.Errorf("markdown lacks the removed environment's object list:\n%s", md)
	}
	if strings.Contains(md, "kustomization.yaml") || strings.Contains(js, "kustomization.yaml") {
		t.Errorf("an output lists kustomization files of a whole environment")
	}
	if !strings.Contains(js, `"name": "pipelines-cluster"`) {
		t.Errorf("JSON lacks the removed objects")
	}
}

// mutateAll applies several changes at once (for the format tests) and
// returns the old and new chart versions of airbyte.
func mutateAll(t *testing.T, from, to Side) (old, cur string) {
	old, cur = bumpVersion(t, to, acmeAirbyte, "kind: HelmRelease", "version", false)
	replace(t, to, acmePostgres, "name: postgres-credentials", "name: pg-shadow-creds", 1)
	replace(t, to, acmeSuperset, "dash-katonic.acme.example", "dash.katonic.acme.example", -1)
	replace(t, to, "clusters/acme-azure/platform.yaml", "  - name: infrastructure\n", "  - name: infrastructure\n  - name: extra\n", 1)
	dropDoc(t, to, acmeNS, func(d string) bool { return strings.Contains(d+"\n", "  name: airbyte\n") })
	p := to.Envs["acme-azure"].NodePools["compute"]
	p.MaxNodes = 5
	to.Envs["acme-azure"].NodePools["compute"] = p
	removeEnv(to, "globex-cloud")
	return old, cur
}

func TestDeterministic(t *testing.T) {
	var first [3]string
	for i := range 3 {
		from, to := base(t), base(t)
		mutateAll(t, from, to)
		rep, err := Compare(from, to, Options{})
		if err != nil {
			t.Fatal(err)
		}
		text, md, js := outputs(t, rep)
		got := [3]string{text, md, js}
		if i == 0 {
			first = got
			continue
		}
		for j, name := range []string{"text", "markdown", "json"} {
			if got[j] != first[j] {
				t.Errorf("run %d: %s output differs from the first run", i, name)
			}
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	from, to := base(t), base(t)
	mutateAll(t, from, to)
	rep, err := Compare(from, to, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, rep) {
		t.Errorf("JSON round trip differs:\n%s", buf.String())
	}
	var raw map[string]any
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["schemaVersion"] != float64(SchemaVersion) {
		t.Errorf("schemaVersion = %v, want %d", raw["schemaVersion"], SchemaVersion)
	}
	if _, ok := raw["environments"].([]any); !ok {
		t.Errorf("environments is %T, want a list", raw["environments"])
	}
}

func TestTextColor(t *testing.T) {
	from, to := base(t), base(t)
	old, cur := mutateAll(t, from, to)
	rep, err := Compare(from, to, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, color := range []bool{false, true} {
		var buf bytes.Buffer
		if err := rep.WriteText(&buf, color); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if has := strings.Contains(out, "\x1b["); has != color {
			t.Errorf("color=%v: ANSI codes present = %v", color, has)
		}
		if !color {
			for _, want := range []string{
				"~ HelmRelease/flux-system/airbyte (addons/airbyte)\n  spec.chart.spec.version: " + old + " → " + cur + "\n  [HIGH chart-major] ",
				"  spec.dependsOn: + {name: extra}\n",
				"  spec.valuesFrom: changed\n",
				"[HIGH node-pool] node pool compute capacity reduced: maxNodes 10 → 5",
				"- Namespace/airbyte (infrastructure/namespaces)\n  [HIGH deleted] ",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("text output lacks %q:\n%s", want, out)
				}
			}
		}
	}
}

func TestMarkdown(t *testing.T) {
	// A small change fits whole.
	from, to := base(t), base(t)
	old, cur := mutateAll(t, from, to)
	rep, err := Compare(from, to, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var small bytes.Buffer
	if err := rep.WriteMarkdown(&small, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| `acme-azure` ⚠ |",
		"| `globex-cloud` (removed) ⚠ |",
		"- ⚠ **high** `chart-major` `acme-azure` `HelmRelease/flux-system/airbyte`: ",
		"<details><summary>acme-azure ~ <code>HelmRelease/flux-system/airbyte</code> (addons/airbyte) ⚠ chart-major</summary>",
		"```diff\n- spec.chart.spec.version: " + old + "\n+ spec.chart.spec.version: " + cur + "\n```",
	} {
		if !strings.Contains(small.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Contains(small.String(), "summarised") {
		t.Errorf("a small report was summarised")
	}

	// 300 removed environments do not fit.
	huge := base(t)
	for i := range 300 {
		renameEnv(huge, "acme-azure", fmt.Sprintf("site-%03d", i))
	}
	rep, err = Compare(huge, base(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, objects, _, _ := rep.Counts()
	if objects < 300*50 {
		t.Fatalf("only %d objects in the synthetic change", objects)
	}
	tests := []struct {
		limit, max int
		note       string
	}{
		{0, GitHubCommentLimit, "65,536"},
		{-1, GitHubCommentLimit, "65,536"},
		{GitHubCommentLimit, GitHubCommentLimit, "65,536"},
		{10000, 10000, "10,000"},
		{400, 400, ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			var buf bytes.Buffer
			if err := rep.WriteMarkdown(&buf, tc.limit); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if len(out) > tc.max {
				t.Fatalf("%d bytes, limit %d", len(out), tc.max)
			}
			if tc.note == "" {
				return
			}
			for _, want := range []string{
				"not shown: the comment is limited to " + tc.note + " characters; run `katonic diff` locally",
				"it is summarised below",
				"more objects in ",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("summarised markdown lacks %q:\n%s", want, out[max(0, len(out)-600):])
				}
			}
			if o, c := strings.Count(out, "<details>"), strings.Count(out, "</details>"); o != c {
				t.Errorf("%d <details> but %d </details>", o, c)
			}
			if strings.Count(out, "```")%2 != 0 {
				t.Errorf("unbalanced code fences")
			}
		})
	}
}

func TestCompareErrors(t *testing.T) {
	tests := []struct {
		name, file, content, want string
	}{
		{"invalid YAML", "environments/acme-azure/platform/bad.yaml", "a: [", "bad.yaml"},
		{"not a mapping", "environments/acme-azure/platform/bad.yaml", "- a\n- b\n", "not a mapping"},
		{"no kind", "environments/acme-azure/platform/bad.yaml", "apiVersion: v1\nmetadata:\n  name: x\n", "no apiVersion or kind"},
		{"no name", "environments/acme-azure/platform/bad.yaml", "apiVersion: v1\nkind: ConfigMap\n", "no metadata.name"},
		{"defined twice", "environments/acme-azure/platform/again.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: airbyte\n", "defined twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			to := base(t)
			to.Files[tc.file] = []byte(tc.content)
			_, err := Compare(base(t), to, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSkippedFiles(t *testing.T) {
	to := base(t)
	to.Files[".katonic-generated"] = []byte("# changed manifest\n")
	to.Files["README.md"] = []byte("not yaml: [")
	to.Files["environments/acme-azure/notes.txt"] = []byte("a: [")
	to.Files["environments/acme-azure/platform/empty.yaml"] = []byte("# nothing\n---\n")
	rep, err := Compare(base(t), to, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Envs) != 0 {
		t.Errorf("skipped files produced changes: %+v", rep.Envs)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		path, env, where, service string
		ok                        bool
	}{
		{"clusters/acme/platform.yaml", "acme", "clusters/platform", "flux", true},
		{"clusters/acme/kustomization.yaml", "acme", "clusters/kustomization", "flux", true},
		{"clusters/acme/flux-system/gotk-sync.yaml", "acme", "clusters/gotk-sync", "flux", true},
		{"environments/acme/platform/postgres.yaml", "acme", "platform/postgres", "postgres", true},
		{"environments/acme/platform/kustomization.yaml", "acme", "platform/kustomization", "flux", true},
		{"environments/acme/infrastructure/storage.yaml", "acme", "infrastructure/storage", "infrastructure", true},
		{"environments/acme/addons/superset.yml", "acme", "addons/superset", "superset", true},
		{".katonic-generated", "", "", "", false},
		{"environments/acme/README.md", "", "", "", false},
		{"other/acme/x.yaml", "", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			env, layer, stem, ok := classify(tc.path)
			if ok != tc.ok || env != tc.env {
				t.Fatalf("classify = %q, %v; want %q, %v", env, ok, tc.env, tc.ok)
			}
			if !ok {
				return
			}
			if w := (ObjectDiff{File: tc.path}).Where(); w != tc.where {
				t.Errorf("Where() = %q, want %q", w, tc.where)
			}
			if s := serviceOf(layer, stem); s != tc.service {
				t.Errorf("service = %q, want %q", s, tc.service)
			}
		})
	}
}

func TestFormatPath(t *testing.T) {
	key := func(n string) ytbx.PathElement { return ytbx.PathElement{Idx: -1, Name: n} }
	tests := []struct {
		path []ytbx.PathElement
		want string
	}{
		{nil, "(root)"},
		{[]ytbx.PathElement{key("spec"), key("values"), key("primary"), key("nodeSelector")}, "spec.values.primary.nodeSelector"},
		{[]ytbx.PathElement{key("spec"), key("dependsOn"), {Idx: -1, Key: "name", Name: "platform"}}, "spec.dependsOn[name=platform]"},
		{[]ytbx.PathElement{key("hosts"), {Idx: 0}}, "hosts[0]"},
		{[]ytbx.PathElement{key("annotations"), key("service.beta.kubernetes.io/x")}, `annotations["service.beta.kubernetes.io/x"]`},
		{[]ytbx.PathElement{key("")}, `[""]`},
	}
	for _, tc := range tests {
		if got := formatPath(tc.path); got != tc.want {
			t.Errorf("formatPath(%+v) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"a: 1", "{a: 1}"},
		{"a: [x, 'y']", "{a: [x, y]}"},
		{"a: 'true'", `{a: "true"}`},
		{"a: '1.0'", `{a: "1.0"}`},
		{"a: ''", `{a: ""}`},
		{"a: |\n  two\n  lines\n", `{a: "two\nlines\n"}`},
		{"a: null", "{a: null}"},
		{"a: {b: c}", "{a: {b: c}}"},
		{"a: 'x: y'", `{a: "x: y"}`},
	}
	for _, tc := range tests {
		docs, err := ytbx.LoadYAMLDocuments([]byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if got := oneLine(docs[0]); got != tc.want {
			t.Errorf("oneLine(%q) = %q, want %q", tc.yaml, got, tc.want)
		}
	}
}

func TestMajors(t *testing.T) {
	tests := []struct {
		v    version
		want []uint64
		ok   bool
	}{
		{version{value: "1.8.5"}, []uint64{1}, true},
		{version{value: "v2.3.0"}, []uint64{2}, true},
		{version{value: "main"}, nil, false},
		{version{value: "~1.8", isRange: true}, []uint64{1}, true},
		{version{value: "^0.3", isRange: true}, []uint64{0}, true},
		{version{value: ">=1.0.0 <4.0.0", isRange: true}, []uint64{1, 2, 3}, true},
		{version{value: ">1.8.5 <2", isRange: true}, []uint64{1}, true},
		{version{value: ">=2.3.0", isRange: true}, []uint64{2, 3}, true},
		{version{value: "16.x", isRange: true}, []uint64{16}, true},
		{version{value: ">=20240901", isRange: true}, []uint64{20240901, 20240902}, true},
		{version{value: "not a range", isRange: true}, nil, false},
	}
	for _, tc := range tests {
		got, ok := tc.v.majors()
		if ok != tc.ok || !reflect.DeepEqual(sortedMajors(got), append([]uint64{}, tc.want...)) && tc.ok {
			t.Errorf("majors(%q) = %v, %v; want %v, %v", tc.v.value, sortedMajors(got), ok, tc.want, tc.ok)
		}
	}
}

// An environment whose katonic files are gone is removed even when flux
// bootstrap's clusters/<env>/flux-system/ stays (katonic never owns it).
func TestEnvironmentRemovedBootstrapped(t *testing.T) {
	from, to := base(t), base(t)
	const sync = "clusters/globex-cloud/flux-system/gotk-sync.yaml"
	doc := []byte("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  path: ./out/clusters/globex-cloud\n  prune: true\n")
	from.Files[sync] = doc
	removeEnv(to, "globex-cloud")
	to.Files[sync] = doc
	rep, err := Compare(from, to, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Envs) != 1 || rep.Envs[0].Change != ChangeRemoved {
		t.Fatalf("environments = %+v, want globex-cloud removed", rep.Envs)
	}
	if got := risks(rep); !reflect.DeepEqual(got, []string{"globex-cloud - environment high"}) {
		t.Errorf("risks = %q", got)
	}
	for _, o := range rep.Envs[0].Objects {
		if o.Name == "flux-system" {
			t.Errorf("flux bootstrap's Kustomization, unchanged, is listed: %+v", o)
		}
	}
}
