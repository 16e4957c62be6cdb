package installer

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"cuelang.org/go/cue/parser"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/testrepo"
)

const repoRoot = "../.."

// installerDir holds Katonic's real installer files (shared reference
// documents); tests that read them skip where it is absent.
const installerDir = "../../../shared/reference/katonic-installer"

var (
	optsOnce sync.Once
	baseOpts Options
	optsErr  error
)

// repoOptions loads the repository's rules once.
func repoOptions(t testing.TB) Options {
	t.Helper()
	optsOnce.Do(func() {
		var d interface{ Errors() int }
		baseOpts, d, optsErr = func() (Options, interface{ Errors() int }, error) {
			o, diags, err := LoadOptions(repoRoot)
			return o, diags, err
		}()
		if optsErr == nil && d.Errors() > 0 {
			optsErr = os.ErrInvalid
		}
	})
	if optsErr != nil {
		t.Fatalf("LoadOptions: %v", optsErr)
	}
	o := baseOpts
	o.File = "in.yml"
	return o
}

// vet compiles src as environments/<name>.cue in a scratch copy of the
// repository, with rendering, and fails t on any error (warnings, too,
// when strict).
func vet(t *testing.T, name string, src []byte, strict bool) *compile.Result {
	t.Helper()
	dir := t.TempDir()
	if err := testrepo.Seed(repoRoot, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "environments"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "environments", name+".cue"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := compile.Compile(compile.Options{Dir: dir, Envs: []string{name}, Render: true, Strict: strict})
	if err != nil {
		var b bytes.Buffer
		if res != nil {
			res.Diags.Print(&b, dir)
		}
		t.Fatalf("the converted environment does not vet: %v\n%s\n%s", err, b.String(), src)
	}
	return res
}

const cloudYML = `cloud_provider: "aws"
cluster_name: "acme"
kubernetes_version: "1.30"
domain: "ai.acme.example"
image_tag: "7.0.0"
node_pools:
  platform:
    count: 3
    instance_type: "m5.xlarge"
    disk_size_gb: 100
  compute:
    count: 2
    instance_type: "m5.2xlarge"
    disk_size_gb: 200
`

const inventory = `platform_version: "7.0.0"
deploy_on: AWS
cluster_name: acme
eks_version: "1.30"
platform_nodes:
  instance_type: m5.2xlarge
  min_count: 3
  max_count: 6
  os_disk_size: 128
compute_nodes:
  instance_type: m5.4xlarge
  min_count: 2
  max_count: 8
  os_disk_size: 128
use_custom_domain: False
custom_domain_name:
use_katonic_domain: True
katonic_domain_prefix: acme
internal_loadbalancer: False
`

// squeeze collapses runs of blanks, so expectations do not depend on the
// printer's alignment.
func squeeze(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' }), " ")
}

func TestConvert(t *testing.T) {
	type want struct {
		// contains are substrings of the CUE source.
		contains []string
		// absent must not appear in the CUE source.
		absent []string
		// adjusted, added and unmapped are "field" (adjusted, added) or
		// "key" (unmapped) entries the report must hold.
		adjusted, added, unmapped []string
		err                       string
	}
	tests := []struct {
		name string
		src  string
		mod  func(*Options)
		want want
	}{
		{
			name: "katonic.yml: boot disk below the 128 GiB minimum is raised (seed 000)",
			src:  cloudYML,
			want: want{
				contains: []string{`profile:  "cloud"`, `provider: "aws"`, "bootDiskGiB: 128", "bootDiskGiB: 200", `domain: "ai.acme.example"`, "// node_pools.platform.disk_size_gb (line 10)"},
				adjusted: []string{"nodePools.platform.bootDiskGiB", "platformVersion"},
			},
		},
		{
			name: "inventory: platform max_count 6 is capped at 3 (fixed 2-3 nodes, seed 000); katonic domain",
			src:  inventory,
			want: want{
				contains: []string{"maxNodes: 3", `domain: "acme.katonic.ai"`, `loadBalancer: "external"`, `kubernetesVersion: "1.30"`},
				adjusted: []string{"nodePools.platform.maxNodes"},
				unmapped: []string{"custom_domain_name"},
			},
		},
		{
			name: "inventory: custom domain",
			src:  strings.Replace(strings.Replace(inventory, "use_custom_domain: False", "use_custom_domain: True", 1), "custom_domain_name:\n", "custom_domain_name: mlops.acme.example\n", 1),
			want: want{
				contains: []string{`domain: "mlops.acme.example"`},
				unmapped: []string{"katonic_domain_prefix", "use_katonic_domain"},
			},
		},
		{
			name: "inventory: custom domain without a name is an error",
			src:  strings.Replace(inventory, "use_custom_domain: False", "use_custom_domain: True", 1),
			want: want{err: "custom_domain_name is empty"},
		},
		{
			name: "katonic.yml without domain is an error",
			src:  strings.Replace(cloudYML, `domain: "ai.acme.example"`, "", 1),
			want: want{err: "no domain"},
		},
		{
			name: "platform min below 2 is raised; min above max raises max",
			src:  strings.Replace(strings.Replace(inventory, "min_count: 3", "min_count: 1", 1), "min_count: 2\n  max_count: 8", "min_count: 5\n  max_count: 4", 1),
			want: want{
				contains: []string{"minNodes: 2", "maxNodes: 5"},
				adjusted: []string{"nodePools.platform.minNodes", "nodePools.compute.maxNodes"},
			},
		},
		{
			name: "on-prem: master and storage pools added at the rule's figures",
			src:  strings.Replace(cloudYML, `cloud_provider: "aws"`, `cloud_provider: "bare_metal"`, 1),
			want: want{
				contains: []string{"master: {", "storage: {", "minNodes: 3"},
				absent:   []string{"provider:"},
				added:    []string{"nodePools.master", "nodePools.storage"},
			},
		},
		{
			name: "on-prem: control-plane IPs size the master pool",
			src:  strings.Replace(cloudYML, `cloud_provider: "aws"`, "cloud_provider: bare_metal\nnode_ips:\n  control_plane: [\"10.0.1.10\", \"10.0.1.11\", \"10.0.1.12\"]\n  workers: [\"10.0.1.20\"]", 1),
			want: want{
				contains: []string{"// node_ips.control_plane (line 3)"},
				added:    []string{"nodePools.master.cpu", "nodePools.storage"},
				unmapped: []string{"node_ips.workers"},
			},
		},
		{
			name: "Kubernetes below the platform version's minimum is raised; a distribution suffix is dropped",
			src:  strings.Replace(cloudYML, `kubernetes_version: "1.30"`, `gke_version: "1.25.2-gke.1"`, 1),
			mod:  func(o *Options) {},
			want: want{
				contains: []string{`kubernetesVersion: "1.29"`, `older than 1.29, the minimum for Katonic 5.0.9`},
				adjusted: []string{"kubernetesVersion"},
			},
		},
		{
			name: "no Kubernetes version: the platform version's minimum is added",
			src:  strings.Replace(cloudYML, `kubernetes_version: "1.30"`, "", 1),
			want: want{contains: []string{`kubernetesVersion: "1.29"`}, added: []string{"kubernetesVersion"}},
		},
		{
			name: "no Kubernetes version at platform 4.5: the profile's minimum is added",
			src:  strings.Replace(strings.Replace(cloudYML, `kubernetes_version: "1.30"`, "", 1), `image_tag: "7.0.0"`, `image_tag: "4.5"`, 1),
			want: want{contains: []string{`kubernetesVersion: "1.27"`}, added: []string{"kubernetesVersion"}},
		},
		{
			name: "a known platform version is kept",
			src:  strings.Replace(strings.Replace(cloudYML, `image_tag: "7.0.0"`, `image_tag: "4.5"`, 1), `kubernetes_version: "1.30"`, `kubernetes_version: "1.29"`, 1),
			want: want{contains: []string{`platformVersion:   "4.5"`}},
		},
		{
			name: "--platform-version overrides",
			src:  strings.Replace(cloudYML, `kubernetes_version: "1.30"`, `kubernetes_version: "1.29"`, 1),
			mod:  func(o *Options) { o.PlatformVersion = "4.5" },
			want: want{contains: []string{`platformVersion:   "4.5"`}},
		},
		{
			name: "unknown instance type: cpu and memory from the pool rule",
			src:  strings.Replace(cloudYML, `"m5.2xlarge"`, `"c7i.metal"`, 1),
			want: want{
				contains: []string{`vmSize:    "c7i.metal"`, "cpu:       8", "memoryGiB: 32"},
				added:    []string{"nodePools.compute.cpu", "nodePools.compute.memoryGiB"},
			},
		},
		{
			name: "a known instance type below the platform minimum loses vmSize",
			src:  strings.Replace(strings.Replace(cloudYML, `"m5.xlarge"`, `"Standard_DS3_v2"`, 1), `"aws"`, `"azure"`, 1),
			want: want{
				contains: []string{"cpu:         4", "memoryGiB:   16"},
				absent:   []string{"Standard_DS3_v2\""},
				adjusted: []string{"nodePools.platform.vmSize"},
			},
		},
		{
			name: "GPU pool when gpu_enabled; p4d.24xlarge implies A100",
			src:  cloudYML + "gpu_enabled: true\ngpu_node_count: 1\ngpu_instance_type: p4d.24xlarge\ngpu_slicing_enabled: false\n",
			want: want{
				contains: []string{"gpu: {", `vmSize:   "p4d.24xlarge"`},
				absent:   []string{"gpuType"},
				unmapped: []string{"gpu_slicing_enabled"},
			},
		},
		{
			name: "GPU keys unmapped when gpu_enabled is false",
			src:  cloudYML + "gpu_enabled: false\ngpu_instance_type: p4d.24xlarge\n",
			want: want{absent: []string{"gpu:"}, unmapped: []string{"gpu_enabled", "gpu_instance_type"}},
		},
		{
			name: "--strict adds the recommended deployment pool and raises the GPU disk to 512",
			src:  cloudYML + "gpu_enabled: true\ngpu_node_count: 1\ngpu_instance_type: p4d.24xlarge\n",
			mod:  func(o *Options) { o.Strict = true },
			want: want{
				contains: []string{"deployment: {", "bootDiskGiB: 512"},
				added:    []string{"nodePools.deployment", "nodePools.gpu.bootDiskGiB"},
			},
		},
		{
			name: "a cloud katonic has no annotations for: cloud without provider; internal LB made external",
			src:  strings.Replace(inventory, "deploy_on: AWS", "deploy_on: OCI", 1) + "internal_loadbalancer_x: 1\n",
			mod:  nil,
			want: want{absent: []string{"provider:"}, adjusted: []string{"profile"}},
		},
		{
			name: "internal LB on OCI becomes external",
			src:  strings.Replace(strings.Replace(inventory, "deploy_on: AWS", "deploy_on: OCI", 1), "internal_loadbalancer: False", "internal_loadbalancer: True", 1),
			want: want{contains: []string{`loadBalancer: "external"`}, adjusted: []string{"loadBalancer"}},
		},
		{
			name: "vectordb pool is unmapped (Milvus)",
			src:  cloudYML + "  vectordb:\n    count: 1\n",
			want: want{absent: []string{"vectordb"}, unmapped: []string{"node_pools.vectordb.count"}},
		},
		{
			name: "--profile azure-private with --network",
			src:  strings.Replace(cloudYML, `"aws"`, `"azure"`, 1),
			mod: func(o *Options) {
				o.Profile = config.ProfileAzurePrivate
				o.Network = &Network{VNetCIDR: "10.20.0.0/16", ClusterSubnetCIDR: "10.20.0.0/23", JumphostSubnetCIDR: "10.20.8.0/29"}
			},
			want: want{
				contains: []string{`profile: "azure-private"`, `vnetCIDR:`, `kubernetesVersion: "1.30"`},
				absent:   []string{`provider: "`, `vmSize:      "m5.`},
				adjusted: []string{"profile", "nodePools.platform.vmSize", "nodePools.compute.vmSize"},
			},
		},
		{
			name: "an instance type of another cloud becomes the same-shaped size of the environment's",
			src:  strings.Replace(cloudYML, `"aws"`, `"gcp"`, 1),
			want: want{
				contains: []string{`vmSize:      "n2-standard-4"`},
				absent:   []string{`vmSize:      "m5.`},
				adjusted: []string{"nodePools.platform.vmSize"},
			},
		},
		{
			name: "an instance type of another cloud without a same-shaped size gives cpu and memoryGiB",
			src:  strings.Replace(cloudYML, `"aws"`, `"gcp"`, 1) + "gpu_enabled: true\ngpu_node_count: 1\ngpu_instance_type: p4d.24xlarge\n",
			want: want{
				contains: []string{"cpu:         96", "memoryGiB:   1152", `gpuType:     "A100"`},
				absent:   []string{`"p4d.24xlarge"`},
				adjusted: []string{"nodePools.gpu.vmSize"},
			},
		},
		{
			name: "--profile azure-private without --network is a usage error",
			src:  cloudYML,
			mod:  func(o *Options) { o.Profile = config.ProfileAzurePrivate },
			want: want{err: "needs --network"},
		},
		{
			name: "cluster_name not a DNS-1123 label",
			src:  strings.Replace(cloudYML, `cluster_name: "acme"`, `cluster_name: "Acme_Prod"`, 1),
			want: want{err: "in.yml:2:1: cluster_name \"Acme_Prod\" is not a DNS-1123 label"},
		},
		{
			name: "--name overrides a bad cluster_name",
			src:  strings.Replace(cloudYML, `cluster_name: "acme"`, `cluster_name: "Acme_Prod"`, 1),
			mod:  func(o *Options) { o.Name = "acme-prod" },
			want: want{contains: []string{`environments: "acme-prod": {`}},
		},
		{
			name: "bad --name",
			src:  cloudYML,
			mod:  func(o *Options) { o.Name = "Bad_Name" },
			want: want{err: "--name \"Bad_Name\" is not a DNS-1123 label"},
		},
		{name: "neither format", src: "foo: 1\n", want: want{err: "not a Katonic installer configuration"}},
		{name: "both formats", src: "deploy_on: AWS\ncloud_provider: aws\n", want: want{err: "both installer formats"}},
		{name: "not a mapping", src: "- a\n- b\n", want: want{err: "in.yml:1:1: the top level is not a mapping"}},
		{name: "empty", src: "", want: want{err: "the file is empty"}},
		{name: "YAML error", src: "cloud_provider: [\n", want: want{err: "not YAML"}},
		{name: "duplicate key", src: "cloud_provider: aws\ncloud_provider: gcp\n", want: want{err: "in.yml:2:1: cloud_provider is given twice (first at line 1)"}},
		{name: "two documents", src: "cloud_provider: aws\n---\na: 1\n", want: want{err: "a second YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := repoOptions(t)
			if tt.mod != nil {
				tt.mod(&opts)
			}
			res, err := Convert([]byte(tt.src), opts)
			if tt.want.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.want.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			src := squeeze(string(res.Source))
			for _, s := range tt.want.contains {
				if !strings.Contains(src, squeeze(s)) {
					t.Errorf("the CUE lacks %q:\n%s", s, src)
				}
			}
			for _, s := range tt.want.absent {
				if strings.Contains(src, s) {
					t.Errorf("the CUE has %q:\n%s", s, src)
				}
			}
			has := func(kind string, list []string, field string) {
				for _, f := range list {
					if f == field {
						return
					}
				}
				t.Errorf("the report's %s lack %s (have %q)", kind, field, list)
			}
			var adj, add, unm []string
			for _, a := range res.Report.Adjusted {
				adj = append(adj, a.Field)
			}
			for _, a := range res.Report.Added {
				add = append(add, a.Field)
			}
			for _, u := range res.Report.Unmapped {
				unm = append(unm, u.Key)
			}
			for _, f := range tt.want.adjusted {
				has("adjusted", adj, f)
			}
			for _, f := range tt.want.added {
				has("added", add, f)
			}
			for _, k := range tt.want.unmapped {
				has("unmapped", unm, k)
			}
			vet(t, res.Name, res.Source, opts.Strict)
		})
	}
}

// secretFile holds credentials with values that must never leave Convert.
const secretFile = cloudYML + `keycloak_admin_password: "kc-Pa55-VALUE"
registry_username: "robot-VALUE"
registry_password: "reg-Pa55-VALUE"
smtp_password: "smtp-Pa55-VALUE"
managed_db_password: "db-Pa55-VALUE"
aws_secret_key: "aws-SECRET-VALUE"
api_token: "tok-VALUE"
custom_tls_key: "/etc/tls/key-VALUE.pem"
smtp_user: "mailer"
registry_password_empty_secret:
`

func TestSecretsNeverCopied(t *testing.T) {
	opts := repoOptions(t)
	res, err := Convert([]byte(secretFile), opts)
	if err != nil {
		t.Fatal(err)
	}
	r := vet(t, res.Name, res.Source, false)
	res.Report.SetSecrets(r.Envs[0].Secrets)
	var text, js bytes.Buffer
	if err := res.Report.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := res.Report.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{string(res.Source), text.String(), js.String()} {
		if strings.Contains(out, "VALUE") {
			t.Errorf("a credential's value leaked:\n%s", out)
		}
	}
	want := map[string]string{
		"keycloak_admin_password": "keycloak/keycloak-admin",
		"registry_username":       "flux-system/katonic-registry",
		"registry_password":       "flux-system/katonic-registry",
		"smtp_password":           "",
		"managed_db_password":     "",
		"aws_secret_key":          "",
		"api_token":               "",
		"custom_tls_key":          "",
	}
	got := map[string]Credential{}
	for _, c := range res.Report.Credentials {
		got[c.Key] = c
	}
	for k, secret := range want {
		c, ok := got[k]
		if !ok {
			t.Errorf("%s is not reported as a credential", k)
			continue
		}
		if c.Secret != secret {
			t.Errorf("%s goes into %q, want %q", k, c.Secret, secret)
		}
		if secret == "" && c.Reason == "" {
			t.Errorf("%s has no Secret and no reason", k)
		}
	}
	if _, ok := got["smtp_user"]; ok {
		t.Errorf("smtp_user is not a credential")
	}
	if !got["registry_password_empty_secret"].Empty {
		t.Errorf("an empty credential is not marked empty")
	}
	if got["keycloak_admin_password"].SecretKey != "KC_BOOTSTRAP_ADMIN_PASSWORD" {
		t.Errorf("keycloak_admin_password key = %q", got["keycloak_admin_password"].SecretKey)
	}
	from := map[string][]string{}
	for _, s := range res.Report.Secrets {
		from[s.Namespace+"/"+s.Name] = s.From
	}
	if f := from["flux-system/katonic-registry"]; strings.Join(f, ",") != "registry_username,registry_password" {
		t.Errorf("katonic-registry is filled from %q", f)
	}
	if f := from["keycloak/keycloak-admin"]; strings.Join(f, ",") != "keycloak_admin_password" {
		t.Errorf("keycloak-admin is filled from %q (is it among the rendered Secrets?)", f)
	}
}

// TestRealFiles converts Katonic's two real installer files: every key is
// accounted for exactly once (mapped, unmapped or a credential), the
// output is deterministic and vets strictly with --strict.
func TestRealFiles(t *testing.T) {
	for _, f := range []string{"installer_katonic.yml", "installer_ansible_inventory_katonic.yml"} {
		t.Run(f, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(installerDir, f))
			if os.IsNotExist(err) {
				t.Skip("reference installer files absent")
			}
			if err != nil {
				t.Fatal(err)
			}
			opts := repoOptions(t)
			opts.File = f
			opts.Strict = true
			a, err := Convert(src, opts)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := Convert(src, opts)
			if !bytes.Equal(a.Source, b.Source) {
				t.Errorf("two conversions differ")
			}
			d, _ := parse(f, src)
			seen := map[string]int{}
			for _, m := range a.Report.Mapped {
				seen[m.Key] |= 1
			}
			for _, u := range a.Report.Unmapped {
				seen[u.Key] |= 2
			}
			for _, c := range a.Report.Credentials {
				seen[c.Key] |= 4
			}
			for _, it := range d.leaves {
				switch seen[it.key] {
				case 1, 2, 4:
				case 0:
					if !strings.HasSuffix(it.key, "_nodes") {
						t.Errorf("%s (line %d) is not reported", it.key, it.line)
					}
				default:
					t.Errorf("%s is reported in more than one section (%b)", it.key, seen[it.key])
				}
			}
			vet(t, a.Name, a.Source, true)
		})
	}
}

func FuzzConvert(f *testing.F) {
	for _, name := range []string{"installer_katonic.yml", "installer_ansible_inventory_katonic.yml"} {
		if b, err := os.ReadFile(filepath.Join(installerDir, name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(cloudYML))
	f.Add([]byte(inventory))
	f.Add([]byte(secretFile))
	f.Add([]byte("deploy_on: On-Premise\ncluster_name: x\nkatonic_domain_prefix: y\ngpu_enabled: yes\ngpu_nodes: {min_count: 9, max_count: 1}\n"))
	f.Add([]byte("cloud_provider: azure\ncluster_name: a\ndomain: b.c\nnode_pools: {platform: {count: 99999999999}, master: {count: 2}}\n"))
	opts := repoOptions(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		res, err := Convert(src, opts)
		if err != nil {
			return
		}
		if _, err := parser.ParseFile("env.cue", res.Source); err != nil {
			t.Fatalf("the CUE does not parse: %v\n%s", err, res.Source)
		}
	})
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("cloud_provider: aws\na0: &a0 {x: 1, y: 1, z: 1, w: 1}\n")
	for i := 1; i < 12; i++ {
		p := i - 1
		b.WriteString(strings.NewReplacer("I", strconv.Itoa(i), "P", strconv.Itoa(p)).Replace("aI: &aI {x: *aP, y: *aP, z: *aP, w: *aP}\n"))
	}
	_, err := Convert([]byte(b.String()), repoOptions(t))
	if err == nil || !strings.Contains(err.Error(), "more than 5000 keys") {
		t.Fatalf("err = %v, want the key bound", err)
	}
}
