// Package crdschema validates Kubernetes objects against
// CustomResourceDefinitions offline, using the same packages from
// k8s.io/apiextensions-apiserver that kube-apiserver uses to validate custom
// resources on create: the structural schema, the OpenAPI schema validator,
// pruning of unknown fields, list-type invariants, embedded ObjectMeta checks
// and the CEL validator for x-kubernetes-validations rules.
//
// Differences from a live API server are deliberate and documented on
// [Validator.Validate]: no defaulting, no admission, no ratcheting (there is
// never an old object) and a placeholder namespace for namespaced objects that
// do not set one.
package crdschema

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	genericvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// placeholderNamespace stands in for the namespace of a namespaced object that
// does not set metadata.namespace. The API server takes the namespace from the
// request (kubectl's current context, or the namespace kustomize/Flux sets)
// before validating, so a manifest without one is not an error offline.
const placeholderNamespace = "default"

// Validator validates objects against a fixed set of CustomResourceDefinitions.
// It is built once by [New] and is safe for concurrent use by multiple
// goroutines: validation never mutates the Validator or the caller's object.
type Validator struct {
	versions map[schema.GroupVersionKind]*versionValidator
	// known records every group/kind (with its CRD name) so that an object
	// whose version exists but is not served gets a precise error.
	known map[schema.GroupKind]*crdInfo
}

type crdInfo struct {
	name     string
	versions []string // every version in the CRD, in CRD order
	served   []string // served versions, in CRD order
}

// versionValidator holds what kube-apiserver builds per served CRD version.
type versionValidator struct {
	crdName               string
	namespaced            bool
	preserveUnknownFields bool
	structural            *structuralschema.Structural
	schemaValidator       apiservervalidation.SchemaValidator
	celValidator          *cel.Validator // nil when the schema has no x-kubernetes-validations
}

// New parses CustomResourceDefinition manifests (apiextensions.k8s.io/v1,
// YAML or JSON; each argument may hold several "---"-separated documents) and
// prepares, for every served version, the structural schema, the OpenAPI
// schema validator and the CEL validator, converting the CRD to the internal
// apiextensions types exactly as kube-apiserver's CRD handler does.
//
// Empty documents are skipped. New returns an error if a document is not a
// v1 CustomResourceDefinition, cannot be decoded, lacks a schema for a served
// version, has a schema that is not structural, or if two CRDs define the
// same group/version/kind. CEL rules that fail to compile are not reported
// here; they surface as errors from [Validator.Validate], as in the API server.
func New(crdYAML ...[]byte) (*Validator, error) {
	v := &Validator{
		versions: map[schema.GroupVersionKind]*versionValidator{},
		known:    map[schema.GroupKind]*crdInfo{},
	}
	for i, data := range crdYAML {
		docs, err := splitDocuments(data)
		if err != nil {
			return nil, fmt.Errorf("crdschema: input %d: %w", i, err)
		}
		for j, doc := range docs {
			if err := v.add(doc); err != nil {
				return nil, fmt.Errorf("crdschema: input %d, document %d: %w", i, j, err)
			}
		}
	}
	return v, nil
}

// splitDocuments splits a YAML stream into its non-empty documents, each
// converted to JSON.
func splitDocuments(data []byte) ([][]byte, error) {
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if t := bytes.TrimSpace(j); len(t) == 0 || bytes.Equal(t, []byte("null")) {
			continue
		}
		docs = append(docs, j)
	}
}

func (v *Validator) add(doc []byte) error {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(doc, &crd); err != nil {
		return fmt.Errorf("decoding CustomResourceDefinition: %w", err)
	}
	if crd.APIVersion != apiextensionsv1.SchemeGroupVersion.String() || crd.Kind != "CustomResourceDefinition" {
		return fmt.Errorf("apiVersion %q kind %q (name %q): not an %s CustomResourceDefinition", crd.APIVersion, crd.Kind, crd.Name, apiextensionsv1.SchemeGroupVersion)
	}
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(&crd)

	gk := schema.GroupKind{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind}
	if gk.Group == "" || gk.Kind == "" {
		return fmt.Errorf("CRD %q: spec.group and spec.names.kind are required", crd.Name)
	}
	if prev, ok := v.known[gk]; ok {
		return fmt.Errorf("CRD %q: %s is already defined by CRD %q", crd.Name, gk, prev.name)
	}
	info := &crdInfo{name: crd.Name}

	for _, ver := range crd.Spec.Versions {
		info.versions = append(info.versions, ver.Name)
		if !ver.Served {
			continue
		}
		info.served = append(info.served, ver.Name)
		vv, err := newVersionValidator(&crd, ver)
		if err != nil {
			return fmt.Errorf("CRD %q version %s: %w", crd.Name, ver.Name, err)
		}
		v.versions[gk.WithVersion(ver.Name)] = vv
	}
	v.known[gk] = info
	return nil
}

func newVersionValidator(crd *apiextensionsv1.CustomResourceDefinition, ver apiextensionsv1.CustomResourceDefinitionVersion) (*versionValidator, error) {
	// apiextensions.k8s.io/v1 keeps schemas per version; a top-level schema
	// (v1beta1 style) cannot occur here.
	if ver.Schema == nil || ver.Schema.OpenAPIV3Schema == nil {
		return nil, errors.New("served version has no schema.openAPIV3Schema")
	}
	internal := &apiextensionsinternal.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(ver.Schema, internal, nil); err != nil {
		return nil, fmt.Errorf("converting schema to internal version: %w", err)
	}

	s, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("schema is not structural: %w", err)
	}
	if errs := structuralschema.ValidateStructural(field.NewPath("spec", "versions").Key(ver.Name).Child("schema", "openAPIV3Schema"), s); len(errs) > 0 {
		return nil, fmt.Errorf("schema is not structural: %w", errs.ToAggregate())
	}
	// Like the CRD handler: own a copy and drop unknown fields from defaults.
	s = s.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(s); err != nil {
		return nil, fmt.Errorf("pruning defaults: %w", err)
	}

	sv, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("building OpenAPI schema validator: %w", err)
	}

	return &versionValidator{
		crdName:               crd.Name,
		namespaced:            crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
		preserveUnknownFields: crd.Spec.PreserveUnknownFields,
		structural:            s,
		schemaValidator:       sv,
		// PerCallLimit is the per-expression cost limit the API server
		// compiles CRD validation rules with.
		celValidator: cel.NewValidator(s, true, celconfig.PerCallLimit),
	}, nil
}

// Validate checks obj, a decoded Kubernetes object (as produced by
// encoding/json or sigs.k8s.io/yaml), against the CRD registered for its
// apiVersion and kind, mirroring what kube-apiserver does when such an object
// is created with strict field validation (kubectl's default).
//
// The returned errors cover, in order:
//   - apiVersion/kind that no CRD defines, or a version that is not served
//     (then nothing else is checked);
//   - unknown fields: fields the structural schema would prune (not preserved
//     by x-kubernetes-preserve-unknown-fields), including unknown fields in
//     metadata and in embedded resources;
//   - metadata: name (DNS subdomain) / generateName, namespace presence for
//     cluster-scoped kinds, labels, annotations, finalizers, owner references;
//   - the OpenAPI v3 schema (types, required, enum, patterns, formats, ...);
//   - embedded resources (x-kubernetes-embedded-resource) and
//     x-kubernetes-list-type set/map uniqueness;
//   - x-kubernetes-validations CEL rules, evaluated with the API server's
//     runtime cost budget. As in the API server, CEL rules are skipped (and
//     a single error says so) when a blocking schema error (missing required
//     field, unsupported enum value, wrong type, too long/many) was found.
//
// Unlike the API server it applies no defaults, runs no admission and has no
// old object to ratchet against. A namespaced object without
// metadata.namespace is validated as if it were in namespace "default".
// obj is not modified. Validate returns nil if obj is valid.
func (v *Validator) Validate(obj map[string]any) field.ErrorList {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if apiVersion == "" {
		return field.ErrorList{field.Required(field.NewPath("apiVersion"), "")}
	}
	if kind == "" {
		return field.ErrorList{field.Required(field.NewPath("kind"), "")}
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("apiVersion"), apiVersion, err.Error())}
	}
	gvk := gv.WithKind(kind)
	vv, ok := v.versions[gvk]
	if !ok {
		if info, known := v.known[gvk.GroupKind()]; known {
			if slices.Contains(info.versions, gv.Version) {
				return field.ErrorList{field.Invalid(field.NewPath("apiVersion"), apiVersion,
					fmt.Sprintf("version %s of %s is defined by CRD %q but not served; served versions: %s",
						gv.Version, gvk.GroupKind(), info.name, strings.Join(qualify(gv.Group, info.served), ", ")))}
			}
			return field.ErrorList{field.NotSupported(field.NewPath("apiVersion"), apiVersion, qualify(gv.Group, info.served))}
		}
		return field.ErrorList{field.Invalid(field.NewPath("kind"), kind, fmt.Sprintf("no CustomResourceDefinition defines kind %q in %s", kind, apiVersion))}
	}
	return vv.validate(context.Background(), obj)
}

func qualify(group string, versions []string) []string {
	out := make([]string, len(versions))
	for i, ver := range versions {
		out[i] = schema.GroupVersion{Group: group, Version: ver}.String()
	}
	return out
}

func (vv *versionValidator) validate(ctx context.Context, obj map[string]any) field.ErrorList {
	// Normalise to what the API server's JSON decoder yields (int64/float64
	// numbers, no Go-specific types); this is also our private deep copy.
	u, err := normalize(obj)
	if err != nil {
		return field.ErrorList{field.Invalid(nil, nil, fmt.Sprintf("object cannot be encoded as JSON: %v", err))}
	}

	var errs field.ErrorList

	// Decoding: metadata must be an ObjectMeta; unknown metadata fields are
	// strict-decoding errors.
	meta, _, metaUnknown, err := schemaobjectmeta.GetObjectMetaWithOptions(u, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return append(errs, field.Invalid(field.NewPath("metadata"), u["metadata"], err.Error()))
	}
	errs = append(errs, unknownFieldErrors(metaUnknown)...)

	// Decoding: pruning. Fields the API server would drop are errors under
	// strict field validation.
	if !vv.preserveUnknownFields {
		pruned := structuralpruning.PruneWithOptions(u, vv.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
		errs = append(errs, unknownFieldErrors(pruned)...)
		structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u, vv.structural)
	}
	// Embedded resources: type-check their TypeMeta/ObjectMeta and find
	// unknown fields inside their metadata.
	if ferr, embeddedUnknown := schemaobjectmeta.CoerceWithOptions(nil, u, vv.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true}); ferr != nil {
		errs = append(errs, ferr)
	} else {
		errs = append(errs, unknownFieldErrors(embeddedUnknown)...)
	}

	// Metadata (the customResourceValidator's ObjectMeta checks).
	if meta == nil {
		errs = append(errs, field.Required(field.NewPath("metadata"), ""))
	} else {
		m := meta.DeepCopy()
		if vv.namespaced && m.Namespace == "" {
			m.Namespace = placeholderNamespace
		}
		errs = append(errs, genericvalidation.ValidateObjectMeta(m, vv.namespaced, genericvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	}

	// OpenAPI schema.
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, u, vv.schemaValidator)...)
	// Embedded resources and list-type invariants.
	errs = append(errs, schemaobjectmeta.Validate(ctx, nil, u, vv.structural, false)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, vv.structural, u)...)

	// CEL rules.
	if vv.celValidator != nil {
		if blocked, ferr := hasBlockingErr(errs); blocked {
			errs = append(errs, ferr)
		} else {
			celErrs, _ := vv.celValidator.Validate(ctx, nil, vv.structural, u, nil, celconfig.RuntimeCELCostBudget)
			errs = append(errs, celErrs...)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// hasBlockingErr mirrors the API server's rule for skipping CEL validation:
// after these error types the object may not have the shape the rules expect.
func hasBlockingErr(errs field.ErrorList) (bool, *field.Error) {
	for _, err := range errs {
		switch err.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")
		}
	}
	return false, nil
}

func normalize(obj map[string]any) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := utiljson.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func unknownFieldErrors(paths []string) field.ErrorList {
	var errs field.ErrorList
	for _, p := range paths {
		errs = append(errs, field.Forbidden(parsePath(p), "unknown field: not in the schema (the API server rejects it under strict field validation and prunes it otherwise)"))
	}
	return errs
}

// parsePath turns a pruning path such as "spec.values[0].foo" into a
// field.Path. Keys containing dots are split, which does not change the
// rendered string.
func parsePath(p string) *field.Path {
	var path *field.Path
	for _, seg := range strings.Split(p, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		if path == nil {
			path = field.NewPath(name)
		} else {
			path = path.Child(name)
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			if n, err := strconv.Atoi(idx); err == nil {
				path = path.Index(n)
			} else {
				path = path.Key(idx)
			}
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return path
}

// Kinds returns the group/version/kinds of every served CRD version known to
// the Validator, sorted by group, then version, then kind.
func (v *Validator) Kinds() []schema.GroupVersionKind {
	out := make([]schema.GroupVersionKind, 0, len(v.versions))
	for gvk := range v.versions {
		out = append(out, gvk)
	}
	slices.SortFunc(out, func(a, b schema.GroupVersionKind) int {
		if c := strings.Compare(a.Group, b.Group); c != 0 {
			return c
		}
		if c := strings.Compare(a.Version, b.Version); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	return out
}
