package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Binaries is the directory `make e2e` builds the control plane, kwok and
// the Flux controllers into, with the controllers' CRDs under crds/.
type Binaries struct{ Dir string }

// The binaries of a Binaries directory.
const (
	BinEtcd                = "etcd"
	BinAPIServer           = "kube-apiserver"
	BinControllerManager   = "kube-controller-manager"
	BinScheduler           = "kube-scheduler"
	BinKwok                = "kwok"
	BinSourceController    = "source-controller"
	BinKustomizeController = "kustomize-controller"
	BinHelmController      = "helm-controller"
)

// Path returns the path of binary name.
func (b Binaries) Path(name string) string { return filepath.Join(b.Dir, name) }

// Check returns ErrMissingBinary, naming the first binary that is not
// there (run make e2e-tools), or nil.
func (b Binaries) Check() error {
	for _, n := range []string{BinEtcd, BinAPIServer, BinControllerManager, BinScheduler, BinKwok,
		BinSourceController, BinKustomizeController, BinHelmController} {
		if _, err := os.Stat(b.Path(n)); err != nil {
			return fmt.Errorf("%w: %s (build it with make e2e-tools)", ErrMissingBinary, b.Path(n))
		}
	}
	if m, _ := filepath.Glob(filepath.Join(b.Dir, "kwok-stages", "*.yaml")); len(m) == 0 {
		return fmt.Errorf("%w: kwok's stages in %s (make e2e-tools copies them)", ErrMissingBinary, filepath.Join(b.Dir, "kwok-stages"))
	}
	if m, _ := filepath.Glob(filepath.Join(b.Dir, "crds", "*.yaml")); len(m) == 0 {
		return fmt.Errorf("%w: the Flux controllers' CRDs in %s (make e2e-tools copies them)", ErrMissingBinary, filepath.Join(b.Dir, "crds"))
	}
	return nil
}

// Cluster is a local control plane with the Flux controllers, on
// loopback: every component a process of the harness, every port free
// when it started.
type Cluster struct {
	// Dir holds the PKI, the kubeconfig, etcd's data, the logs (logs/)
	// and source-controller's artifact storage.
	Dir        string
	PKI        PKI
	Kubeconfig string
	// Config, Client and Dynamic talk to the API server as the admin.
	Config  *rest.Config
	Client  *kubernetes.Clientset
	Dynamic dynamic.Interface
	procs   []*Process
}

// LogDir is where every component logs, one file each.
func (c *Cluster) LogDir() string { return filepath.Join(c.Dir, "logs") }

// Processes returns the running components, in start order.
func (c *Cluster) Processes() []*Process { return c.procs }

// StartCluster starts etcd, kube-apiserver (Kubernetes 1.37, on a
// loopback port, with --endpoint-reconciler-type=none since there is no
// node network), kube-controller-manager, kube-scheduler, kwok (managing
// only nodes labelled kwok.x-k8s.io/node=fake) and, once the Flux CRDs
// are applied, source-controller, kustomize-controller and
// helm-controller. Each is ready before the next starts. The PKI is the one
// under dir/pki when there is one (NewPKI), a new one otherwise. On error every
// started process is stopped and the logs are kept in dir/logs.
func StartCluster(ctx context.Context, bins Binaries, dir string) (_ *Cluster, err error) {
	if err := bins.Check(); err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir}
	if err := os.MkdirAll(c.LogDir(), 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	// A PKI made beforehand (a registry serves with its certificate) is
	// kept; otherwise a new one.
	if _, err := os.Stat(filepath.Join(dir, "pki", caCert)); err == nil {
		c.PKI = PKI{Dir: filepath.Join(dir, "pki")}
	} else if c.PKI, err = NewPKI(filepath.Join(dir, "pki")); err != nil {
		return nil, err
	}
	ports := map[string]int{}
	for _, n := range []string{"etcd", "etcd-peer", "apiserver", "source-storage", "source-health", "kustomize-health", "helm-health", "kwok"} {
		if ports[n], err = FreePort(); err != nil {
			return nil, err
		}
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports["etcd"])
	if err := c.start(ctx, "etcd", bins.Path(BinEtcd), []string{
		"-data-dir", filepath.Join(dir, "etcd"), "-listen-client-url", etcdURL,
		"-listen-peer-url", "http://127.0.0.1:" + strconv.Itoa(ports["etcd-peer"]),
	}, func() error { return httpOK(nil, etcdURL+"/health") }); err != nil {
		return nil, err
	}

	server := "https://127.0.0.1:" + strconv.Itoa(ports["apiserver"])
	p := c.PKI
	if err := c.start(ctx, "kube-apiserver", bins.Path(BinAPIServer), []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(ports["apiserver"]),
		"--tls-cert-file=" + p.Path(serverCert), "--tls-private-key-file=" + p.Path(serverKey),
		"--client-ca-file=" + p.Path(caCert),
		"--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file=" + p.Path(saPublicKey),
		"--service-account-signing-key-file=" + p.Path(saKey),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=Node,RBAC",
		"--endpoint-reconciler-type=none",
		// As every real cluster's: node agents (Longhorn's manager, CSI
		// plugins) run privileged containers.
		"--allow-privileged=true",
		// No pod runs, so no admission webhook can answer: webhook
		// admission is off (the charts' webhook configurations are
		// created, never called).
		"--disable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
		"--enable-priority-and-fairness=false",
	}, func() error { return c.apiReady(server) }); err != nil {
		return nil, err
	}
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := p.Kubeconfig(c.Kubeconfig, server); err != nil {
		return nil, err
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return nil, err
	}
	c.Config.QPS, c.Config.Burst = 200, 400
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return nil, err
	}
	if c.Dynamic, err = dynamic.NewForConfig(c.Config); err != nil {
		return nil, err
	}
	kc := "--kubeconfig=" + c.Kubeconfig
	running := func() error { return nil }
	if err := c.start(ctx, "kube-controller-manager", bins.Path(BinControllerManager), []string{
		kc, "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0",
		"--service-account-private-key-file=" + p.Path(saKey), "--root-ca-file=" + p.Path(caCert),
		"--use-service-account-credentials=false",
		// No node network: no pod CIDRs to allocate. The node lifecycle
		// controller lifts the not-ready taint of new nodes once kwok makes
		// them Ready; a long grace period keeps it from marking their pods
		// not ready when kwok's heartbeat is late on a busy machine.
		"--controllers=*,-nodeipam", "--node-monitor-grace-period=10m",
	}, running); err != nil {
		return nil, err
	}
	if err := c.start(ctx, "kube-scheduler", bins.Path(BinScheduler), []string{
		kc, "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0",
	}, running); err != nil {
		return nil, err
	}
	// kwok's "fast" stages: nodes Ready at once and kept so by their
	// leases, pods Running and Ready once bound, Job pods Succeeded.
	stages, _ := filepath.Glob(filepath.Join(bins.Dir, "kwok-stages", "*.yaml"))
	kwokArgs := []string{kc, "--manage-all-nodes=false", "--manage-nodes-with-label-selector=" + FakeNodeLabel + "=fake",
		"--server-address=127.0.0.1:" + strconv.Itoa(ports["kwok"])}
	bare := filepath.Join(dir, "pod-complete-bare.yaml")
	if err := os.WriteFile(bare, []byte(podCompleteBare), 0o644); err != nil {
		return nil, err
	}
	for _, s := range append(stages, bare) {
		kwokArgs = append(kwokArgs, "--config="+s)
	}
	if err := c.start(ctx, "kwok", bins.Path(BinKwok), kwokArgs, running); err != nil {
		return nil, err
	}
	crds, _ := filepath.Glob(filepath.Join(bins.Dir, "crds", "*.yaml"))
	for _, f := range crds {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := c.Apply(ctx, data); err != nil {
			return nil, fmt.Errorf("apply %s: %w", filepath.Base(f), err)
		}
	}
	if err := c.WaitCRDs(ctx); err != nil {
		return nil, err
	}
	if err := c.EnsureNamespace(ctx, "flux-system"); err != nil {
		return nil, err
	}
	storage := "127.0.0.1:" + strconv.Itoa(ports["source-storage"])
	if err := os.MkdirAll(filepath.Join(dir, "artifacts"), 0o755); err != nil {
		return nil, err
	}
	flux := []struct {
		name, bin, health string
		extra             []string
	}{
		{"source-controller", BinSourceController, "source-health", []string{
			"--storage-path=" + filepath.Join(dir, "artifacts"), "--storage-addr=" + storage, "--storage-adv-addr=" + storage}},
		{"kustomize-controller", BinKustomizeController, "kustomize-health", nil},
		{"helm-controller", BinHelmController, "helm-health", nil},
	}
	for _, f := range flux {
		health := "127.0.0.1:" + strconv.Itoa(ports[f.health])
		// The Flux controllers read the kubeconfig from $KUBECONFIG.
		args := append([]string{"--watch-all-namespaces=true", "--enable-leader-election=false",
			"--metrics-addr=0", "--health-addr=" + health, "--log-level=info", "--log-encoding=console"}, f.extra...)
		// SSL_CERT_FILE: the controllers trust the harness's CA, which
		// signs the OCI registry's certificate, in place of the system's.
		if err := c.start(ctx, f.name, bins.Path(f.bin), args, func() error { return httpOK(nil, "http://"+health+"/readyz") },
			"RUNTIME_NAMESPACE=flux-system", "KUBECONFIG="+c.Kubeconfig, "SSL_CERT_FILE="+p.Path(caCert)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// podCompleteBare is a kwok Stage of the harness's own: a running pod that
// no controller owns and that never restarts (a Helm hook pod, such as
// Airbyte's bootloader) completes, as kwok's pod-complete stage does for
// Job pods; Helm waits for such a hook to succeed.
const podCompleteBare = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: katonic-e2e-pod-complete-bare
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values: ['Running']
    - key: '.spec.restartPolicy'
      operator: 'In'
      values: ['Never']
    - key: '.metadata.ownerReferences'
      operator: 'DoesNotExist'
  next:
    statusTemplate: |
      {{ $now := Now }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated: {exitCode: 0, reason: Completed, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }}}
      {{ end }}
      phase: Succeeded
`

// FakeNodeLabel marks the nodes kwok manages (its --manage-nodes-with-label-selector).
const FakeNodeLabel = "kwok.x-k8s.io/node"

// start starts one component and waits up to two minutes for probe.
func (c *Cluster) start(ctx context.Context, name, bin string, args []string, probe func() error, env ...string) error {
	p, err := Start(name, bin, args, c.LogDir(), env...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := p.Ready(rctx, probe); err != nil {
		return err
	}
	// A component that exits right after starting (a bad flag) is an error.
	time.Sleep(300 * time.Millisecond)
	if done, err := p.Exited(); done {
		return fmt.Errorf("%s exited (%v); see %s", name, err, p.LogPath)
	}
	return nil
}

// apiReady is the API server's /readyz, with the admin certificate.
func (c *Cluster) apiReady(server string) error {
	cert, err := tls.LoadX509KeyPair(c.PKI.Path(adminCert), c.PKI.Path(adminKey))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(c.PKI.Path(caCert))
	if err != nil {
		return err
	}
	pool.AppendCertsFromPEM(ca)
	return httpOK(&tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}, server+"/readyz")
}

func httpOK(tc *tls.Config, url string) error {
	cl := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	resp, err := cl.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
	}
	return nil
}

// Stop stops every component, the last started first, and leaves no
// process behind.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].Stop(10 * time.Second)
	}
}
