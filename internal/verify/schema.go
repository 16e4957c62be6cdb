package verify

import (
	"encoding/json"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/katonic/katonic/internal/crdschema"
	"github.com/katonic/katonic/internal/diag"
)

const (
	srcCRD    = "Flux CRD OpenAPI v3 schema and x-kubernetes-validations, generated from the pinned Flux API modules (internal/crdschema)"
	srcStrict = "k8s.io/api types, strict decoding (unknown and duplicate fields are errors, as kubectl --validate=strict)"
)

// strictCodec decodes core Kubernetes kinds into their k8s.io/api types,
// failing on unknown and duplicate fields.
var strictCodec = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	kjson.SerializerOptions{Yaml: false, Pretty: false, Strict: true})

// schema runs layer 2 over every built object.
func (v *envVerifier) schema() {
	val, err := crdschema.Flux()
	if err != nil {
		v.add(LayerSchema, diag.Error, nil, "", "verify.schema", srcCRD, "loading the embedded Flux CRDs: %v", err)
		return
	}
	for _, o := range v.objects {
		if strings.HasSuffix(o.group(), ".toolkit.fluxcd.io") {
			errs := val.Validate(o.m)
			for _, fe := range errs {
				if fe.Field == "<nil>" && len(errs) > 1 {
					continue // "some validation rules were not checked": the other errors say why
				}
				v.add(LayerSchema, diag.Error, o, fe.Field, "verify.schema.crd", srcCRD, "%s", fieldMessage(fe.Type.String(), fe.Detail, fe.BadValue))
			}
			continue
		}
		gvk := schema.FromAPIVersionAndKind(o.apiVersion, o.kind)
		if !scheme.Scheme.Recognizes(gvk) {
			v.add(LayerSchema, diag.Warning, o, "", "verify.schema.unknown", srcStrict,
				"no schema for %s %s is known to katonic; the object is not validated", o.apiVersion, o.kind)
			continue
		}
		m := o.m
		if sopsEncrypted(o) {
			m = decryptedShape(m)
		}
		data, err := json.Marshal(m)
		if err != nil {
			v.add(LayerSchema, diag.Error, o, "", "verify.schema.strict", srcStrict, "%v", err)
			continue
		}
		if _, _, err := strictCodec.Decode(data, &gvk, nil); err != nil {
			if se, ok := runtime.AsStrictDecodingError(err); ok {
				for _, e := range se.Errors() {
					v.add(LayerSchema, diag.Error, o, strictField(e.Error()), "verify.schema.strict", srcStrict, "%s", e)
				}
				continue
			}
			v.add(LayerSchema, diag.Error, o, "", "verify.schema.strict", srcStrict, "%v", err)
		}
	}
}

// fieldMessage renders a field error without repeating its path.
func fieldMessage(typ, detail string, bad any) string {
	msg := typ
	if detail != "" {
		msg += ": " + detail
	}
	switch bad.(type) {
	case string, bool, int, int64, float64:
		if s, err := json.Marshal(bad); err == nil && len(s) < 80 {
			msg += " (value " + string(s) + ")"
		}
	}
	return msg
}

// strictField extracts the field path from a strict decoding message such
// as `unknown field "spec.foo"`.
func strictField(msg string) string {
	i := strings.IndexByte(msg, '"')
	j := strings.LastIndexByte(msg, '"')
	if i < 0 || j <= i {
		return ""
	}
	return msg[i+1 : j]
}

// sopsEncrypted reports whether o is a Secret encrypted with SOPS (it has a
// sops block with a mac), as kept in secrets/<env>/.
func sopsEncrypted(o *object) bool {
	if !o.is("", "Secret") {
		return false
	}
	mac, _ := nested(o.m, "sops", "mac").(string)
	return mac != ""
}

// decryptedShape returns a copy of a SOPS-encrypted Secret shaped as
// kustomize-controller applies it after decryption (Flux docs,
// "Kustomization — Decryption"): without the sops block, and with data
// values, which are ENC[...] instead of base64, emptied. The Secret's
// structure is then validated like any other object's; its values cannot be.
func decryptedShape(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != "sops" {
			out[k] = v
		}
	}
	if data, ok := m["data"].(map[string]any); ok {
		d := make(map[string]any, len(data))
		for k := range data {
			d[k] = ""
		}
		out["data"] = d
	}
	return out
}
