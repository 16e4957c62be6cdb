package dns

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/render"
)

func environment(profile config.Profile, provider, lb string, superset, airbyte bool) *config.Environment {
	return &config.Environment{
		Name: "e", Profile: profile, Provider: provider, Domain: "k.example.com", LoadBalancer: lb,
		Services: map[string]config.Service{
			"istio":    {Enabled: true, Namespace: "istio-system"},
			"superset": {Enabled: superset, Namespace: "superset"},
			"airbyte":  {Enabled: airbyte, Namespace: "airbyte"},
		},
	}
}

var gatewayRelease = []render.Release{{Name: "istio-gateway", ChartID: catalog.ChartIstioGateway, Namespace: "istio-system"}}

// gatewayHR is the gateway HelmRelease with the given values.service.
func gatewayHR(service string) string {
	return `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: istio-gateway, namespace: flux-system}
spec:
  targetNamespace: istio-system
  values:
    name: istio-ingressgateway
    service:
` + service
}

func TestRecordType(t *testing.T) {
	tests := []struct {
		profile  config.Profile
		provider string
		want     string
	}{
		{config.ProfileCloud, "aws", TypeCNAME},
		{config.ProfileCloud, "azure", TypeA},
		{config.ProfileCloud, "gcp", TypeA},
		{config.ProfileCloud, "", "A or CNAME"},
		{config.ProfileAzurePrivate, "", TypeA},
		{config.ProfileOnPrem, "", TypeA},
	}
	for _, tt := range tests {
		got, _ := RecordType(environment(tt.profile, tt.provider, External, false, false))
		if got != tt.want {
			t.Errorf("%s/%s: got %s, want %s", tt.profile, tt.provider, got, tt.want)
		}
	}
}

func TestLoadBalancer(t *testing.T) {
	tests := []struct {
		name       string
		env        *config.Environment
		service    string
		exposure   string
		annotation string
		zone       string
		target     string
	}{{
		name:       "azure internal annotation",
		env:        environment(config.ProfileAzurePrivate, "", Internal, false, false),
		service:    "      type: LoadBalancer\n      annotations: {service.beta.kubernetes.io/azure-load-balancer-internal: \"true\"}\n",
		exposure:   Internal,
		annotation: "service.beta.kubernetes.io/azure-load-balancer-internal=true",
		zone:       "private",
		target:     "Service istio-system/istio-ingressgateway status.loadBalancer.ingress[0].ip (a private IP in the VNet/VPC)",
	}, {
		name:       "aws internal scheme, a DNS name",
		env:        environment(config.ProfileCloud, "aws", Internal, false, false),
		service:    "      type: LoadBalancer\n      annotations: {service.beta.kubernetes.io/aws-load-balancer-scheme: internal}\n",
		exposure:   Internal,
		annotation: "service.beta.kubernetes.io/aws-load-balancer-scheme=internal",
		zone:       "private",
		target:     "Service istio-system/istio-ingressgateway status.loadBalancer.ingress[0].hostname (the load balancer's DNS name)",
	}, {
		name:       "gcp internal",
		env:        environment(config.ProfileCloud, "gcp", Internal, false, false),
		service:    "      type: LoadBalancer\n      annotations: {networking.gke.io/load-balancer-type: Internal}\n",
		exposure:   Internal,
		annotation: "networking.gke.io/load-balancer-type=Internal",
		zone:       "private",
		target:     "Service istio-system/istio-ingressgateway status.loadBalancer.ingress[0].ip (a private IP in the VNet/VPC)",
	}, {
		name: "the render decides, not the environment: an annotation with another value is external",
		env:  environment(config.ProfileCloud, "azure", Internal, false, false),
		service: "      type: LoadBalancer\n" +
			"      annotations: {service.beta.kubernetes.io/azure-load-balancer-internal: \"false\"}\n",
		exposure: External,
		zone:     "public",
		target:   "Service istio-system/istio-ingressgateway status.loadBalancer.ingress[0].ip (a public IP)",
	}, {
		name:     "service.type left out is the chart's LoadBalancer",
		env:      environment(config.ProfileCloud, "gcp", External, false, false),
		service:  "      annotations: {}\n",
		exposure: External,
		zone:     "public",
		target:   "Service istio-system/istio-ingressgateway status.loadBalancer.ingress[0].ip (a public IP)",
	}, {
		name: "onprem NodePort: the exposure is the environment's",
		env:  environment(config.ProfileOnPrem, "", Internal, false, false),
		service: "      type: NodePort\n      ports:\n" +
			"      - {name: status-port, port: 15021}\n" +
			"      - {name: https, port: 443, nodePort: 30443}\n" +
			"      - {name: http2, port: 80, nodePort: 30080}\n",
		exposure: Internal,
		zone:     "private",
		target:   "your load balancer's IP, forwarding to Service istio-system/istio-ingressgateway (NodePort 80→30080, 443→30443) on the platform nodes",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{"environments/e/platform/istio.yaml": []byte(gatewayHR(tt.service))}
			r, err := Build(tt.env, files, []string{"environments/e/platform/istio.yaml"}, gatewayRelease, "out")
			if err != nil {
				t.Fatal(err)
			}
			lb := r.LoadBalancer
			if lb.Exposure != tt.exposure || lb.Annotation != tt.annotation || lb.Namespace != "istio-system" || lb.Name != "istio-ingressgateway" {
				t.Errorf("load balancer %+v, want exposure %s annotation %q", lb, tt.exposure, tt.annotation)
			}
			if lb.File != "out/environments/e/platform/istio.yaml" || lb.Release != "HelmRelease/flux-system/istio-gateway" {
				t.Errorf("release %s in %s", lb.Release, lb.File)
			}
			if len(r.Records) != 1 || r.Records[0].Zone != tt.zone || r.Records[0].Target != tt.target {
				t.Errorf("records %+v, want zone %s target %q", r.Records, tt.zone, tt.target)
			}
		})
	}
}

func TestRecordsFollowHosts(t *testing.T) {
	tests := []struct {
		superset, airbyte bool
		want              []string
	}{
		{false, false, []string{"k.example.com platform"}},
		{true, false, []string{"k.example.com platform", "dash-k.example.com superset"}},
		{false, true, []string{"k.example.com platform", "connectors-k.example.com airbyte"}},
		{true, true, []string{"k.example.com platform", "dash-k.example.com superset", "connectors-k.example.com airbyte"}},
	}
	for _, tt := range tests {
		env := environment(config.ProfileCloud, "aws", External, tt.superset, tt.airbyte)
		r, err := Build(env, nil, nil, nil, "out")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, rec := range r.Records {
			got = append(got, rec.Name+" "+rec.Serves)
			if !strings.HasPrefix(rec.Target, "no Istio ingress gateway") || rec.Type != TypeCNAME || rec.Zone != "public" {
				t.Errorf("record without a gateway: %+v", rec)
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("superset %t airbyte %t: got %q, want %q", tt.superset, tt.airbyte, got, tt.want)
		}
		if r.LoadBalancer != nil {
			t.Errorf("load balancer without a gateway release: %+v", r.LoadBalancer)
		}
	}
}

func TestCertificates(t *testing.T) {
	env := environment(config.ProfileCloud, "aws", External, true, true)
	files := map[string][]byte{
		"environments/e/platform/istio.yaml": []byte(gatewayHR("      type: LoadBalancer\n")),
		"environments/e/platform/ui.yaml": []byte(`apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: ui, namespace: flux-system}
spec:
  targetNamespace: application
  values: {domain: k.example.com, other: [k.example.com, x]}
`),
		"environments/e/addons/bi.yaml": []byte(`apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: bi, namespace: flux-system}
spec:
  values:
    ingress:
      tls: [{secretName: bi-tls, hosts: [dash-k.example.com]}]
    web:
      ingress:
        tls: {enabled: true}
`),
		"environments/e/addons/extra.yaml": []byte(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: extra, namespace: airbyte}
spec:
  tls:
  - {secretName: bi-tls, hosts: [connectors-k.example.com]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  servers:
  - hosts: [airbyte/connectors-k.example.com]
    tls: {mode: SIMPLE, credentialName: airbyte-tls}
  - hosts: [k.example.com]
    port: {number: 80}
`),
	}
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	r, err := Build(env, files, paths, gatewayRelease, "out")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range r.Certificates {
		var refs []string
		for _, ref := range c.ReferencedBy {
			refs = append(refs, ref.Object+" "+ref.Field)
		}
		got = append(got, strings.Join(c.SANs, ",")+" | "+c.Secret+" | "+strings.Join(refs, "; "))
	}
	want := []string{
		// The FQDN: no Secret, the fields that carry it.
		"k.example.com |  | HelmRelease/flux-system/ui spec.values.domain; HelmRelease/flux-system/ui spec.values.other[0]",
		// One certificate per Secret, in the gateway's namespace, SANs merged.
		"connectors-k.example.com,dash-k.example.com | istio-system/bi-tls | HelmRelease/flux-system/bi spec.values.ingress.tls[0]; Ingress/airbyte/extra spec.tls[0]",
		"connectors-k.example.com | istio-system/airbyte-tls | Gateway/istio-system/gw spec.servers[0].tls.credentialName",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("certificates:\n got %q\nwant %q", got, want)
	}
}

func TestBuildErrors(t *testing.T) {
	env := environment(config.ProfileCloud, "aws", External, false, false)
	if _, err := Build(env, map[string][]byte{"a.yaml": []byte("kind: [")}, []string{"a.yaml"}, nil, "out"); err == nil || !strings.HasPrefix(err.Error(), "out/a.yaml: ") {
		t.Errorf("invalid YAML: got %v", err)
	}
	if _, err := Build(env, nil, nil, gatewayRelease, "out"); err == nil || !strings.Contains(err.Error(), "istio-gateway is not in the rendered files") {
		t.Errorf("missing gateway: got %v", err)
	}
}

func TestWrite(t *testing.T) {
	env := environment(config.ProfileAzurePrivate, "", Internal, true, false)
	files := map[string][]byte{"p/istio.yaml": []byte(gatewayHR("      type: LoadBalancer\n      annotations: {service.beta.kubernetes.io/azure-load-balancer-internal: \"true\"}\n"))}
	r, err := Build(env, files, []string{"p/istio.yaml"}, gatewayRelease, "out")
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"e: internal load balancer: Service istio-system/istio-ingressgateway (type LoadBalancer, service.beta.kubernetes.io/azure-load-balancer-internal=true)",
		"\ndash-k.example.com  A     private  Service istio-system/istio-ingressgateway",
		"\nk.example.com       (none named in out/)  -\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["schemaVersion"] != float64(1) || !strings.HasPrefix(js.String(), "{\n  \"schemaVersion\": 1,") {
		t.Errorf("json: %s", js.String())
	}
}

// FuzzBuild feeds arbitrary YAML as the gateway's file and another
// object's: Build may return an error, never panic, and always reports one
// record per host.
func FuzzBuild(f *testing.F) {
	f.Add([]byte(gatewayHR("      type: NodePort\n      ports: [{port: 80, nodePort: 1}]\n")), []byte("kind: Ingress\napiVersion: networking.k8s.io/v1\nspec: {tls: [{secretName: s}]}\n"))
	f.Add([]byte(gatewayHR("      annotations: [1]\n")), []byte("spec: {values: {tls: [{secretName: 1, hosts: [k.example.com]}]}}\n"))
	f.Fuzz(func(t *testing.T, gw, other []byte) {
		env := environment(config.ProfileOnPrem, "", External, true, true)
		files := map[string][]byte{"a.yaml": gw, "b.yaml": other}
		r, err := Build(env, files, []string{"a.yaml", "b.yaml"}, gatewayRelease, "out")
		if err != nil {
			return
		}
		if len(r.Records) != 3 {
			t.Fatalf("%d records", len(r.Records))
		}
		_ = WriteText(&bytes.Buffer{}, r)
		_ = WriteJSON(&bytes.Buffer{}, r)
	})
}
