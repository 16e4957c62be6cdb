package crdschema

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// flux returns the Validator for the embedded Flux CRDs (see [Flux]), which
// are part of the package, so these tests need nothing outside the repository.
func flux(t *testing.T) *Validator {
	t.Helper()
	v, err := Flux()
	if err != nil {
		t.Fatalf("Flux(): %v", err)
	}
	return v
}

func obj(t *testing.T, y string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		t.Fatalf("bad test YAML: %v", err)
	}
	return m
}

const validHelmRelease = `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: apps
spec:
  interval: 10m
  chart:
    spec:
      chart: podinfo
      version: "6.x"
      sourceRef:
        kind: HelmRepository
        name: podinfo
  install:
    remediation:
      retries: 3
  upgrade:
    remediation:
      retries: 3
      remediateLastFailure: true
  values:
    replicaCount: 2
    anything:
      goes: [1, "two", {three: 3}]
`

const validKustomization = `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps/production
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`

func TestValidObjects(t *testing.T) {
	v := flux(t)
	cases := map[string]string{
		"HelmRelease":   validHelmRelease,
		"Kustomization": validKustomization,
		"HelmRepository": `
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 1h
  url: https://stefanprodan.github.io/podinfo
`,
		"HelmRepository OCI": `
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo-oci
spec:
  type: oci
  interval: 1h
  url: oci://ghcr.io/stefanprodan/charts
`,
		"OCIRepository": `
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: manifests
  namespace: flux-system
spec:
  interval: 5m
  url: oci://ghcr.io/stefanprodan/manifests/podinfo
  ref:
    tag: latest
  layerSelector:
    mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip
    operation: copy
`,
		"GitRepository": `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m
  url: https://github.com/fluxcd/flux2-kustomize-helm-example
  ref:
    branch: main
  ignore: |
    /*
    !/apps
`,
	}
	for name, y := range cases {
		t.Run(name, func(t *testing.T) {
			if errs := v.Validate(obj(t, y)); len(errs) != 0 {
				t.Errorf("want no errors, got:\n%s", errs.ToAggregate())
			}
		})
	}
}

// mutate returns base decoded and changed by f.
func mutate(t *testing.T, base string, f func(m map[string]any)) map[string]any {
	t.Helper()
	m := obj(t, base)
	f(m)
	return m
}

func get(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

// wantErr asserts that errs contains an error of type typ whose rendering
// contains every string in substrs.
func wantErr(t *testing.T, errs field.ErrorList, typ field.ErrorType, substrs ...string) {
	t.Helper()
	for _, e := range errs {
		if e.Type != typ {
			continue
		}
		s := e.Error()
		ok := true
		for _, sub := range substrs {
			if !strings.Contains(s, sub) {
				ok = false
				break
			}
		}
		if ok {
			return
		}
	}
	t.Errorf("no %s error containing %q in:\n%v", typ, substrs, errs)
}

func TestEnumViolation(t *testing.T) {
	v := flux(t)
	hr := mutate(t, validHelmRelease, func(m map[string]any) {
		get(m, "spec", "chart", "spec", "sourceRef")["kind"] = "Bucket2"
	})
	errs := v.Validate(hr)
	wantErr(t, errs, field.ErrorTypeNotSupported, "spec.chart.spec.sourceRef.kind", "Bucket2", "HelmRepository")
}

func TestCELRule(t *testing.T) {
	v := flux(t)
	t.Run("both chart and chartRef", func(t *testing.T) {
		hr := mutate(t, validHelmRelease, func(m map[string]any) {
			get(m, "spec")["chartRef"] = map[string]any{"kind": "OCIRepository", "name": "podinfo"}
		})
		errs := v.Validate(hr)
		wantErr(t, errs, field.ErrorTypeInvalid, "spec", "either chart or chartRef must be set")
		if len(errs) != 1 {
			t.Errorf("want exactly the CEL error, got:\n%v", errs)
		}
	})
	t.Run("neither chart nor chartRef", func(t *testing.T) {
		hr := mutate(t, validHelmRelease, func(m map[string]any) {
			delete(get(m, "spec"), "chart")
		})
		wantErr(t, v.Validate(hr), field.ErrorTypeInvalid, "either chart or chartRef must be set")
	})
	t.Run("nested rule", func(t *testing.T) {
		hr := mutate(t, validHelmRelease, func(m map[string]any) {
			get(m, "spec")["kubeConfig"] = map[string]any{}
		})
		wantErr(t, v.Validate(hr), field.ErrorTypeInvalid, "spec.kubeConfig", "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef")
	})
	t.Run("chartRef only is valid", func(t *testing.T) {
		hr := mutate(t, validHelmRelease, func(m map[string]any) {
			spec := get(m, "spec")
			delete(spec, "chart")
			spec["chartRef"] = map[string]any{"kind": "OCIRepository", "name": "podinfo"}
		})
		if errs := v.Validate(hr); len(errs) != 0 {
			t.Errorf("want no errors, got:\n%v", errs)
		}
	})
}

func TestCELSkippedAfterBlockingError(t *testing.T) {
	v := flux(t)
	hr := mutate(t, validHelmRelease, func(m map[string]any) {
		spec := get(m, "spec")
		spec["chartRef"] = map[string]any{"kind": "OCIRepository", "name": "podinfo"}
		get(spec, "chart", "spec", "sourceRef")["kind"] = "Bucket2"
	})
	errs := v.Validate(hr)
	wantErr(t, errs, field.ErrorTypeNotSupported, "spec.chart.spec.sourceRef.kind")
	wantErr(t, errs, field.ErrorTypeInvalid, "some validation rules were not checked")
	for _, e := range errs {
		if strings.Contains(e.Error(), "either chart or chartRef") {
			t.Errorf("CEL rule evaluated despite a blocking error: %v", e)
		}
	}
}

func TestUnknownFields(t *testing.T) {
	v := flux(t)
	t.Run("spec.foo", func(t *testing.T) {
		hr := mutate(t, validHelmRelease, func(m map[string]any) { get(m, "spec")["foo"] = "bar" })
		errs := v.Validate(hr)
		wantErr(t, errs, field.ErrorTypeForbidden, "spec.foo", "unknown field")
		if len(errs) != 1 {
			t.Errorf("want exactly one error, got:\n%v", errs)
		}
	})
	t.Run("nested", func(t *testing.T) {
		hr := mutate(t, validHelmRelease, func(m map[string]any) {
			get(m, "spec", "chart", "spec", "sourceRef")["nmae"] = "typo"
		})
		wantErr(t, v.Validate(hr), field.ErrorTypeForbidden, "spec.chart.spec.sourceRef.nmae")
	})
	t.Run("top level", func(t *testing.T) {
		k := mutate(t, validKustomization, func(m map[string]any) { m["specs"] = map[string]any{} })
		wantErr(t, v.Validate(k), field.ErrorTypeForbidden, "specs")
	})
	t.Run("metadata", func(t *testing.T) {
		k := mutate(t, validKustomization, func(m map[string]any) { get(m, "metadata")["labelz"] = map[string]any{"a": "b"} })
		wantErr(t, v.Validate(k), field.ErrorTypeForbidden, "metadata.labelz")
	})
	// spec.values (x-kubernetes-preserve-unknown-fields) accepts anything;
	// validHelmRelease relies on that in TestValidObjects.
	t.Run("inside list items", func(t *testing.T) {
		hr := mutate(t, validHelmRelease, func(m map[string]any) {
			get(m, "spec")["dependsOn"] = []any{map[string]any{"name": "a", "colour": "red"}}
		})
		wantErr(t, v.Validate(hr), field.ErrorTypeForbidden, "spec.dependsOn[0].colour")
	})
}

func TestRequiredField(t *testing.T) {
	v := flux(t)
	k := mutate(t, validKustomization, func(m map[string]any) { delete(get(m, "spec"), "prune") })
	errs := v.Validate(k)
	wantErr(t, errs, field.ErrorTypeRequired, "spec.prune")
}

func TestTypeMismatch(t *testing.T) {
	v := flux(t)
	k := mutate(t, validKustomization, func(m map[string]any) { get(m, "spec")["prune"] = "yes" })
	wantErr(t, v.Validate(k), field.ErrorTypeTypeInvalid, "spec.prune", "boolean")
}

func TestPattern(t *testing.T) {
	v := flux(t)
	k := mutate(t, validKustomization, func(m map[string]any) { get(m, "spec")["interval"] = "ten minutes" })
	wantErr(t, v.Validate(k), field.ErrorTypeInvalid, "spec.interval")
}

func TestMetadata(t *testing.T) {
	v := flux(t)
	t.Run("bad name", func(t *testing.T) {
		k := mutate(t, validKustomization, func(m map[string]any) { get(m, "metadata")["name"] = "Not_Valid" })
		wantErr(t, v.Validate(k), field.ErrorTypeInvalid, "metadata.name")
	})
	t.Run("missing name", func(t *testing.T) {
		k := mutate(t, validKustomization, func(m map[string]any) { delete(get(m, "metadata"), "name") })
		wantErr(t, v.Validate(k), field.ErrorTypeRequired, "metadata.name")
	})
	t.Run("missing namespace is fine", func(t *testing.T) {
		k := mutate(t, validKustomization, func(m map[string]any) { delete(get(m, "metadata"), "namespace") })
		if errs := v.Validate(k); len(errs) != 0 {
			t.Errorf("want no errors, got:\n%v", errs)
		}
	})
	t.Run("bad label", func(t *testing.T) {
		k := mutate(t, validKustomization, func(m map[string]any) {
			get(m, "metadata")["labels"] = map[string]any{"app": "has spaces"}
		})
		wantErr(t, v.Validate(k), field.ErrorTypeInvalid, "metadata.labels")
	})
	t.Run("metadata wrong type", func(t *testing.T) {
		k := mutate(t, validKustomization, func(m map[string]any) { m["metadata"] = "oops" })
		if errs := v.Validate(k); len(errs) == 0 {
			t.Error("want an error for non-object metadata")
		}
	})
}

func TestUnknownKindAndVersion(t *testing.T) {
	v := flux(t)
	t.Run("kind", func(t *testing.T) {
		errs := v.Validate(obj(t, `{apiVersion: source.toolkit.fluxcd.io/v1, kind: Bucket2, metadata: {name: x}}`))
		wantErr(t, errs, field.ErrorTypeInvalid, "kind", "Bucket2")
	})
	t.Run("group", func(t *testing.T) {
		errs := v.Validate(obj(t, `{apiVersion: apps/v1, kind: Deployment, metadata: {name: x}}`))
		wantErr(t, errs, field.ErrorTypeInvalid, "kind", "Deployment")
	})
	t.Run("version", func(t *testing.T) {
		errs := v.Validate(obj(t, `{apiVersion: helm.toolkit.fluxcd.io/v9, kind: HelmRelease, metadata: {name: x}}`))
		wantErr(t, errs, field.ErrorTypeNotSupported, "apiVersion", "helm.toolkit.fluxcd.io/v2")
	})
	t.Run("missing apiVersion", func(t *testing.T) {
		wantErr(t, v.Validate(obj(t, `{kind: HelmRelease}`)), field.ErrorTypeRequired, "apiVersion")
	})
}

func TestValidateDoesNotMutate(t *testing.T) {
	v := flux(t)
	hr := mutate(t, validHelmRelease, func(m map[string]any) { get(m, "spec")["foo"] = "bar" })
	before, _ := yaml.Marshal(hr)
	_ = v.Validate(hr)
	after, _ := yaml.Marshal(hr)
	if string(before) != string(after) {
		t.Errorf("Validate modified its input:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestGoTypedNumbers(t *testing.T) {
	// Objects built in Go (not decoded from JSON) carry int values.
	v := flux(t)
	hr := mutate(t, validHelmRelease, func(m map[string]any) {
		get(m, "spec", "install", "remediation")["retries"] = int(3)
		get(m, "spec")["maxHistory"] = int32(5)
	})
	if errs := v.Validate(hr); len(errs) != 0 {
		t.Errorf("want no errors, got:\n%v", errs)
	}
}

func TestKinds(t *testing.T) {
	v := flux(t)
	got := v.Kinds()
	for _, want := range []schema.GroupVersionKind{
		{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"},
		{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"},
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepository"},
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmRepository"},
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "OCIRepository"},
	} {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("Kinds() lacks %v; got %v", want, got)
		}
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if a.Group > b.Group || (a.Group == b.Group && (a.Version > b.Version || (a.Version == b.Version && a.Kind >= b.Kind))) {
			t.Errorf("Kinds() not sorted at %d: %v before %v", i, a, b)
		}
	}
}

// The tests below use a small inline CRD, so they run without the Flux CRDs.

const widgetCRD = `
# leading comment and an empty document
---
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Cluster
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            x-kubernetes-validations:
            - rule: self.size <= self.max
              message: size must not exceed max
            properties:
              size: {type: integer}
              max: {type: integer, default: 10}
              tags:
                type: array
                x-kubernetes-list-type: set
                items: {type: string}
  - name: v0
    served: false
    storage: false
    schema:
      openAPIV3Schema: {type: object}
`

func TestInlineCRD(t *testing.T) {
	v, err := New([]byte(widgetCRD))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Kinds(); len(got) != 1 || got[0] != (schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}) {
		t.Fatalf("Kinds() = %v, want only example.com/v1 Widget", got)
	}
	valid := `{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {size: 3, max: 5, tags: [a, b]}}`
	if errs := v.Validate(obj(t, valid)); len(errs) != 0 {
		t.Errorf("valid Widget: %v", errs)
	}
	wantErr(t, v.Validate(obj(t, `{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {size: 6, max: 5}}`)),
		field.ErrorTypeInvalid, "spec", "size must not exceed max")
	wantErr(t, v.Validate(obj(t, `{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {size: 1, max: 5, tags: [a, a]}}`)),
		field.ErrorTypeDuplicate, "spec.tags[1]")
	wantErr(t, v.Validate(obj(t, `{apiVersion: example.com/v1, kind: Widget, metadata: {name: w, namespace: ns}, spec: {size: 1, max: 5}}`)),
		field.ErrorTypeForbidden, "metadata.namespace")
	wantErr(t, v.Validate(obj(t, `{apiVersion: example.com/v0, kind: Widget, metadata: {name: w}}`)),
		field.ErrorTypeInvalid, "apiVersion", "not served", "example.com/v1")
}

func TestNewErrors(t *testing.T) {
	cases := map[string]string{
		"not a CRD":      `{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}`,
		"bad YAML":       "apiVersion: [",
		"unknown field":  strings.Replace(widgetCRD, "scope: Cluster", "scope: Cluster\n  scop: x", 1),
		"non-structural": strings.Replace(widgetCRD, "size: {type: integer}", "size: {}", 1),
		"no schema": strings.Replace(widgetCRD, "    served: false\n    storage: false\n    schema:\n      openAPIV3Schema: {type: object}\n",
			"    served: true\n    storage: false\n", 1),
	}
	for name, y := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := New([]byte(y))
			if err == nil {
				t.Fatal("want an error")
			}
			t.Log(err)
		})
	}
	t.Run("duplicate kind", func(t *testing.T) {
		if _, err := New([]byte(widgetCRD), []byte(widgetCRD)); err == nil {
			t.Error("want an error for the same kind defined twice")
		}
	})
}
