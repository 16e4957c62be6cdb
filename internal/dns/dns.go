// Package dns derives, from one rendered environment, the DNS records and
// TLS certificates its ingress needs: the platform FQDN, dash-<FQDN> when
// Superset is on and connectors-<FQDN> when Airbyte is on (seeds
// 001_023b29528093f049.txt and 003_48ea17a7d7c364df.txt, "You require an
// additional DNS"), each pointing at the Istio ingress gateway's load
// balancer, internal or external, and the TLS Secret that holds each name's
// certificate.
//
// The load balancer and the certificates are read from the rendered
// objects (the gateway's HelmRelease values, Ingress TLS entries, Istio
// Gateway servers), not from a second model of them, so the report says
// what the cluster will serve.
package dns

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/render"
)

// SchemaVersion is the version of the JSON document WriteJSON emits; it
// changes only when a field is removed or changes meaning.
const SchemaVersion = 1

// Exposure of the load balancer (seed 003, "Architecture of Katonic
// Platform with External/Internal Load Balancer"): an external load
// balancer has a public IP outside the VNet/VPC, an internal one a private
// IP inside it, reachable only from the VNet/VPC.
const (
	External = "external"
	Internal = "internal"
)

// Record types.
const (
	TypeA     = "A"
	TypeCNAME = "CNAME"
)

// Report is what one environment needs from DNS and from its
// certificate authority.
type Report struct {
	Environment string `json:"environment"`
	Profile     string `json:"profile"`
	Provider    string `json:"provider,omitempty"`
	// LoadBalancer is the ingress gateway's Service and how it is exposed;
	// nil when no Istio ingress gateway is rendered (services.istio off).
	LoadBalancer *LoadBalancer `json:"loadBalancer"`
	// Records are one per host of config.Environment.Hosts, in that order.
	Records []Record `json:"records"`
	// Certificates are one per TLS Secret named by the rendered objects,
	// then one per host no rendered object names a TLS Secret for; ordered
	// by their first SAN's place in Hosts.
	Certificates []Certificate `json:"certificates"`
}

// LoadBalancer is the Service that the records point at: the Istio
// ingress gateway's.
type LoadBalancer struct {
	// Release is the HelmRelease that installs the gateway
	// ("HelmRelease/flux-system/istio-gateway") and File its file,
	// relative to the repository root.
	Release string `json:"release"`
	File    string `json:"file"`
	// Namespace and Name are the Service's: the release's targetNamespace
	// and the gateway chart's values.name (the chart names its Service
	// after it, else after the release).
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Type is values.service.type: "LoadBalancer" (the chart's default)
	// or "NodePort" (onprem, behind the customer's load balancer).
	Type string `json:"type"`
	// Exposure is External or Internal. For a LoadBalancer Service it is
	// read from the Service annotations (see InternalAnnotations); for a
	// NodePort Service the load balancer is the customer's, outside the
	// render, and Exposure is the environment's loadBalancer field.
	Exposure string `json:"exposure"`
	// Annotation is the internal-load-balancer annotation found, as
	// "key=value", or "".
	Annotation string `json:"annotation,omitempty"`
	// NodePorts maps the Service ports 80 and 443 to their fixed node
	// ports, for a NodePort Service: what the customer's load balancer
	// must forward to on the platform nodes (seed 001, "Ingress and SSL").
	NodePorts map[string]int `json:"nodePorts,omitempty"`
}

// Record is one DNS record the environment needs.
type Record struct {
	// Name is the FQDN.
	Name string `json:"name"`
	// Serves is what the name serves: "platform", "superset" or "airbyte".
	Serves string `json:"serves"`
	// Type is A or CNAME (see RecordType), or "A or CNAME" when a cloud
	// environment does not name its provider.
	Type string `json:"type"`
	// Zone is "private" for an internal load balancer (a private DNS zone
	// linked to the VNet/VPC: Azure Private DNS, Route 53 private hosted
	// zone, Cloud DNS private zone), "public" for an external one.
	Zone string `json:"zone"`
	// Target says what the record's value is and where to read it.
	Target string `json:"target"`
}

// Certificate is one TLS certificate the ingress serves.
type Certificate struct {
	// SANs are the host names it must cover, sorted.
	SANs []string `json:"sans"`
	// Secret is the kubernetes.io/tls Secret that holds it, as
	// "namespace/name"; "" when no rendered object names one.
	Secret string `json:"secret"`
	// ReferencedBy are the fields of the rendered objects that name the
	// Secret (or, without a Secret, that carry the host), sorted.
	ReferencedBy []Ref `json:"referencedBy"`
}

// Ref is one field of one rendered object.
type Ref struct {
	Object string `json:"object"` // "Kind/namespace/name"
	Field  string `json:"field"`  // e.g. "spec.values.ingress.tls[0]"
	File   string `json:"file"`   // relative to the repository root
}

// InternalAnnotations are the Service annotations that make a cloud load
// balancer internal, with the value that does so, per the providers' docs:
// AKS "Use an internal load balancer"; the AWS Load Balancer Controller's
// "service.beta.kubernetes.io/aws-load-balancer-scheme" and the legacy
// in-tree AWS provider's "aws-load-balancer-internal"; GKE "Internal
// passthrough Network Load Balancer" (networking.gke.io) and its legacy
// cloud.google.com form. Values compare case-sensitively, as the
// controllers do.
var InternalAnnotations = map[string]string{
	"service.beta.kubernetes.io/azure-load-balancer-internal": "true",
	"service.beta.kubernetes.io/aws-load-balancer-scheme":     "internal",
	"service.beta.kubernetes.io/aws-load-balancer-internal":   "true",
	"networking.gke.io/load-balancer-type":                    "Internal",
	"cloud.google.com/load-balancer-type":                     "Internal",
}

// RecordType returns the record type for a load balancer of env, and
// where the record's value comes from:
//
//   - AWS (cloud, provider aws): a Classic, Network or Application Load
//     Balancer is addressed by a DNS name, never a fixed IP (Elastic Load
//     Balancing docs, "DNS name"; EKS sets the Service's
//     status.loadBalancer.ingress[].hostname): CNAME, or a Route 53 alias
//     record at a zone apex.
//   - Azure (cloud provider azure, and azure-private): the Azure Load
//     Balancer's frontend is an IP (AKS docs; status.loadBalancer.ingress[].ip),
//     private from the cluster subnet when internal: A.
//   - GCP: a passthrough Network Load Balancer's forwarding rule is an IP
//     (GKE docs, "LoadBalancer Service"): A.
//   - onprem: the customer's network load balancer of seed 001 ("A network
//     LoadBalancer is to be provided for the application endpoint") or a
//     MetalLB pool address (Katonic installer inventory,
//     metallb_address_pool): an IP, A.
//
// A cloud environment without provider gets "A or CNAME".
func RecordType(env *config.Environment) (typ, field string) {
	switch provider(env) {
	case "aws":
		return TypeCNAME, "hostname"
	case "azure", "gcp", "onprem":
		return TypeA, "ip"
	}
	return TypeA + " or " + TypeCNAME, "ip or hostname"
}

func provider(env *config.Environment) string {
	switch env.Profile {
	case config.ProfileAzurePrivate:
		return "azure"
	case config.ProfileOnPrem:
		return "onprem"
	}
	return env.Provider
}

// Build reports what env needs. files are the rendered files
// (compile.Result.Files, slash paths relative to the output directory),
// paths the environment's (compile.EnvResult.Files), releases its
// HelmReleases (compile.EnvResult.Releases: the gateway is the one that
// installs catalog.ChartIstioGateway), and out the output directory's
// path from the repository root, which prefixes the reported files. It
// returns an error when a file is not valid YAML or the gateway's
// HelmRelease is not among the files.
func Build(env *config.Environment, files map[string][]byte, paths []string, releases []render.Release, out string) (*Report, error) {
	objs, err := decodeAll(files, paths, out)
	if err != nil {
		return nil, err
	}
	r := &Report{Environment: env.Name, Profile: string(env.Profile), Provider: env.Provider}
	for _, rl := range releases {
		if rl.ChartID != catalog.ChartIstioGateway {
			continue
		}
		if r.LoadBalancer, err = gateway(env, objs, rl.Name); err != nil {
			return nil, err
		}
		break
	}
	r.Records = records(env, r.LoadBalancer)
	r.Certificates = certificates(env, objs, r.LoadBalancer)
	return r, nil
}

// gateway reads the Service of the gateway HelmRelease named name.
func gateway(env *config.Environment, objs []*object, name string) (*LoadBalancer, error) {
	for _, o := range objs {
		if o.kind() != "HelmRelease" || o.name() != name {
			continue
		}
		values := asMap(get(o.doc, "spec", "values"))
		lb := &LoadBalancer{Release: o.ref(), File: o.file, Namespace: str(get(o.doc, "spec", "targetNamespace")),
			Name: str(values["name"]), Type: str(get(values, "service", "type"))}
		if lb.Namespace == "" {
			lb.Namespace = o.namespace()
		}
		if lb.Name == "" {
			lb.Name = str(get(o.doc, "spec", "releaseName"))
		}
		if lb.Name == "" {
			lb.Name = name
		}
		if lb.Type == "" {
			lb.Type = "LoadBalancer" // the gateway chart's default service.type
		}
		lb.Exposure = External
		if lb.Type == "LoadBalancer" {
			ann := asMap(get(values, "service", "annotations"))
			for _, k := range sortedKeys(ann) {
				if want, ok := InternalAnnotations[k]; ok && str(ann[k]) == want {
					lb.Exposure, lb.Annotation = Internal, k+"="+want
					break
				}
			}
		} else {
			if env.LoadBalancer == Internal {
				lb.Exposure = Internal
			}
			ports, _ := get(values, "service", "ports").([]any)
			for _, p := range ports {
				pm := asMap(p)
				port, np := num(pm["port"]), num(pm["nodePort"])
				if (port == 80 || port == 443) && np > 0 {
					if lb.NodePorts == nil {
						lb.NodePorts = map[string]int{}
					}
					lb.NodePorts[strconv.Itoa(port)] = np
				}
			}
		}
		return lb, nil
	}
	return nil, fmt.Errorf("the gateway HelmRelease %s is not in the rendered files", name)
}

func records(env *config.Environment, lb *LoadBalancer) []Record {
	typ, field := RecordType(env)
	exposure := env.LoadBalancer
	var target string
	switch {
	case lb == nil:
		target = "no Istio ingress gateway is rendered (services.istio is off): your own ingress's address"
	case lb.Type == "LoadBalancer":
		exposure = lb.Exposure
		where := "a public IP"
		if lb.Exposure == Internal {
			where = "a private IP in the VNet/VPC"
		}
		if typ == TypeCNAME {
			where = "the load balancer's DNS name"
		}
		target = fmt.Sprintf("Service %s/%s status.loadBalancer.ingress[0].%s (%s)", lb.Namespace, lb.Name, field, where)
	default:
		target = fmt.Sprintf("your load balancer's IP, forwarding to Service %s/%s (%s) on the platform nodes", lb.Namespace, lb.Name, nodePorts(lb))
	}
	zone := "public"
	if exposure == Internal {
		zone = "private"
	}
	serves := map[string]string{env.Domain: "platform", env.DashHost(): "superset", env.ConnectorsHost(): "airbyte"}
	var out []Record
	for _, h := range env.Hosts() {
		out = append(out, Record{Name: h, Serves: serves[h], Type: typ, Zone: zone, Target: target})
	}
	return out
}

func nodePorts(lb *LoadBalancer) string {
	if len(lb.NodePorts) == 0 {
		return lb.Type
	}
	ports := sortedKeys(lb.NodePorts)
	sort.Slice(ports, func(i, j int) bool {
		return len(ports[i]) < len(ports[j]) || len(ports[i]) == len(ports[j]) && ports[i] < ports[j]
	})
	var s []string
	for _, p := range ports {
		s = append(s, fmt.Sprintf("%s→%d", p, lb.NodePorts[p]))
	}
	return lb.Type + " " + strings.Join(s, ", ")
}

// tlsEntry is one host-to-Secret binding found in a rendered object.
type tlsEntry struct {
	hosts  []string
	secret string // namespace/name
	ref    Ref
}

// certificates groups the TLS entries of the rendered objects by Secret
// and adds one Secret-less certificate per host nobody names a Secret for.
//
// Where the Secret lives: Istio serves Kubernetes Ingress TLS and Gateway
// credentialName from Secrets in the ingress gateway's namespace (Istio
// docs, "Kubernetes Ingress" and "Secure Gateways"), so that namespace is
// the Secret's; without a gateway, the object's own (target) namespace.
func certificates(env *config.Environment, objs []*object, lb *LoadBalancer) []Certificate {
	var entries []tlsEntry
	for _, o := range objs {
		ns := o.namespace()
		if t := str(get(o.doc, "spec", "targetNamespace")); t != "" && o.kind() == "HelmRelease" {
			ns = t
		}
		if lb != nil {
			ns = lb.Namespace
		}
		switch {
		case o.kind() == "HelmRelease" && strings.HasPrefix(o.apiVersion(), "helm.toolkit.fluxcd.io/"):
			walkTLS(get(o.doc, "spec", "values"), "spec.values", func(field string, hosts []string, secret string) {
				entries = append(entries, tlsEntry{hosts, ns + "/" + secret, Ref{o.ref(), field, o.file}})
			})
		case o.kind() == "Ingress" && strings.HasPrefix(o.apiVersion(), "networking.k8s.io/"):
			tls, _ := get(o.doc, "spec", "tls").([]any)
			for i, t := range tls {
				tm := asMap(t)
				if s := str(tm["secretName"]); s != "" {
					entries = append(entries, tlsEntry{strs(tm["hosts"]), ns + "/" + s, Ref{o.ref(), fmt.Sprintf("spec.tls[%d]", i), o.file}})
				}
			}
		case o.kind() == "Gateway" && strings.HasPrefix(o.apiVersion(), "networking.istio.io/"):
			servers, _ := get(o.doc, "spec", "servers").([]any)
			for i, s := range servers {
				sm := asMap(s)
				if c := str(get(sm, "tls", "credentialName")); c != "" {
					var hosts []string
					for _, h := range strs(sm["hosts"]) {
						// Gateway hosts may be "namespace/host".
						if _, after, ok := strings.Cut(h, "/"); ok {
							h = after
						}
						hosts = append(hosts, h)
					}
					entries = append(entries, tlsEntry{hosts, ns + "/" + c, Ref{o.ref(), fmt.Sprintf("spec.servers[%d].tls.credentialName", i), o.file}})
				}
			}
		}
	}
	bySecret := map[string]*Certificate{}
	covered := map[string]bool{}
	for _, e := range entries {
		c := bySecret[e.secret]
		if c == nil {
			c = &Certificate{Secret: e.secret}
			bySecret[e.secret] = c
		}
		c.SANs = append(c.SANs, e.hosts...)
		c.ReferencedBy = append(c.ReferencedBy, e.ref)
		for _, h := range e.hosts {
			covered[h] = true
		}
	}
	var out []Certificate
	for _, s := range sortedKeys(bySecret) {
		c := bySecret[s]
		c.SANs = uniq(c.SANs)
		sortRefs(c.ReferencedBy)
		out = append(out, *c)
	}
	for _, h := range env.Hosts() {
		if covered[h] {
			continue
		}
		c := Certificate{SANs: []string{h}, ReferencedBy: []Ref{}}
		for _, o := range objs {
			if o.kind() != "HelmRelease" {
				continue
			}
			walkStrings(get(o.doc, "spec", "values"), "spec.values", func(field, v string) {
				if v == h {
					c.ReferencedBy = append(c.ReferencedBy, Ref{o.ref(), field, o.file})
				}
			})
		}
		sortRefs(c.ReferencedBy)
		out = append(out, c)
	}
	order := map[string]int{}
	for i, h := range env.Hosts() {
		order[h] = i + 1
	}
	rank := func(c Certificate) int {
		best := len(order) + 1
		for _, s := range c.SANs {
			if o := order[s]; o > 0 && o < best {
				best = o
			}
		}
		return best
	}
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		return out[i].Secret < out[j].Secret
	})
	return out
}

// walkTLS calls fn for every Kubernetes Ingress TLS entry in a chart's
// values: a list under the key "tls" whose items carry "secretName" (and
// "hosts"), the shape networking.k8s.io/v1 IngressTLS gives to every
// chart's ingress.tls.
func walkTLS(v any, field string, fn func(field string, hosts []string, secret string)) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			f := field + "." + k
			if items, ok := t[k].([]any); ok && k == "tls" {
				for i, it := range items {
					im := asMap(it)
					if s := str(im["secretName"]); s != "" {
						fn(fmt.Sprintf("%s[%d]", f, i), strs(im["hosts"]), s)
					}
				}
				continue
			}
			walkTLS(t[k], f, fn)
		}
	case []any:
		for i, it := range t {
			walkTLS(it, fmt.Sprintf("%s[%d]", field, i), fn)
		}
	}
}

// walkStrings calls fn for every string leaf of v.
func walkStrings(v any, field string, fn func(field, v string)) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			walkStrings(t[k], field+"."+k, fn)
		}
	case []any:
		for i, it := range t {
			walkStrings(it, fmt.Sprintf("%s[%d]", field, i), fn)
		}
	case string:
		fn(field, t)
	}
}

// object is one rendered Kubernetes object, decoded as plain data.
type object struct {
	doc  map[string]any
	file string
}

func (o *object) apiVersion() string { return str(o.doc["apiVersion"]) }
func (o *object) kind() string       { return str(o.doc["kind"]) }
func (o *object) name() string       { return str(get(o.doc, "metadata", "name")) }
func (o *object) namespace() string {
	if ns := str(get(o.doc, "metadata", "namespace")); ns != "" {
		return ns
	}
	return "default"
}
func (o *object) ref() string { return o.kind() + "/" + o.namespace() + "/" + o.name() }

// decodeAll decodes every YAML document of the named files, in path order.
func decodeAll(files map[string][]byte, paths []string, out string) ([]*object, error) {
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	var objs []*object
	for _, p := range sorted {
		file := path.Join(out, p)
		dec := yaml.NewDecoder(bytes.NewReader(files[p]))
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if doc != nil {
				objs = append(objs, &object{doc: doc, file: file})
			}
		}
	}
	return objs, nil
}

func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) int {
	n, _ := v.(int)
	return n
}

func strs(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func uniq(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func sortRefs(rs []Ref) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Object != rs[j].Object {
			return rs[i].Object < rs[j].Object
		}
		return rs[i].Field < rs[j].Field
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
