package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
)

// fieldManager owns what the harness applies (server-side apply).
const fieldManager = "katonic-e2e"

// Apply server-side applies every object of the YAML stream data, in
// order, as the admin. It returns the first error, naming the object.
func (c *Cluster) Apply(ctx context.Context, data []byte) error {
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Client.Discovery()))
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if len(obj.Object) == 0 {
			continue
		}
		if err := c.applyOne(ctx, mapper, &obj); err != nil {
			return fmt.Errorf("%s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
	}
}

func (c *Cluster) applyOne(ctx context.Context, mapper meta.RESTMapper, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	var r interface {
		Apply(context.Context, string, *unstructured.Unstructured, metav1.ApplyOptions, ...string) (*unstructured.Unstructured, error)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := obj.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		r = c.Dynamic.Resource(m.Resource).Namespace(ns)
	} else {
		r = c.Dynamic.Resource(m.Resource)
	}
	_, err = r.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	return err
}

// WaitCRDs waits until discovery serves the Flux API groups.
func (c *Cluster) WaitCRDs(ctx context.Context) error {
	want := []schema.GroupVersion{
		{Group: "source.toolkit.fluxcd.io", Version: "v1"},
		{Group: "kustomize.toolkit.fluxcd.io", Version: "v1"},
		{Group: "helm.toolkit.fluxcd.io", Version: "v2"},
	}
	deadline := time.Now().Add(time.Minute)
	for {
		missing := ""
		for _, gv := range want {
			if _, err := c.Client.Discovery().ServerResourcesForGroupVersion(gv.String()); err != nil {
				missing = gv.String()
				break
			}
		}
		if missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server does not serve %s a minute after its CRD was applied", missing)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// EnsureNamespace creates namespace ns unless it exists.
func (c *Cluster) EnsureNamespace(ctx context.Context, ns string) error {
	_, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
