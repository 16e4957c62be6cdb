package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// PKI is the control plane's key material, written under Dir: a CA
// (ca.crt), the API server's serving certificate for 127.0.0.1 and
// localhost (apiserver.crt, .key), an admin client certificate in group
// system:masters (admin.crt, .key) that every component and the harness
// use, and the service-account signing key pair (sa.key, sa.pub).
type PKI struct {
	Dir string
}

// Paths of the files NewPKI writes, relative to PKI.Dir.
const (
	caCert      = "ca.crt"
	serverCert  = "apiserver.crt"
	serverKey   = "apiserver.key"
	adminCert   = "admin.crt"
	adminKey    = "admin.key"
	saKey       = "sa.key"
	saPublicKey = "sa.pub"
)

// Path returns the absolute path of one of PKI's files.
func (p PKI) Path(name string) string { return filepath.Join(p.Dir, name) }

// NewPKI writes a fresh PKI into dir (created if needed). The certificates
// are valid for a day: the harness runs for minutes. It returns an error
// when a key cannot be generated or a file cannot be written.
func NewPKI(dir string) (PKI, error) {
	p := PKI{Dir: dir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return p, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "katonic-e2e-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return p, err
	}
	if err := writePEM(p.Path(caCert), "CERTIFICATE", caDER); err != nil {
		return p, err
	}
	leaf := func(serial int64, cn string, org []string, usage x509.ExtKeyUsage, certFile, keyFile string) error {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		t := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn, Organization: org},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			t.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
			t.DNSNames = []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}
		}
		der, err := x509.CreateCertificate(rand.Reader, t, ca, &k.PublicKey, caKey)
		if err != nil {
			return err
		}
		kb, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return err
		}
		if err := writePEM(p.Path(certFile), "CERTIFICATE", der); err != nil {
			return err
		}
		return writePEM(p.Path(keyFile), "EC PRIVATE KEY", kb)
	}
	if err := leaf(2, "kube-apiserver", nil, x509.ExtKeyUsageServerAuth, serverCert, serverKey); err != nil {
		return p, err
	}
	if err := leaf(3, "katonic-e2e-admin", []string{"system:masters"}, x509.ExtKeyUsageClientAuth, adminCert, adminKey); err != nil {
		return p, err
	}
	sa, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return p, err
	}
	if err := writePEM(p.Path(saKey), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(sa)); err != nil {
		return p, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	if err != nil {
		return p, err
	}
	return p, writePEM(p.Path(saPublicKey), "PUBLIC KEY", pub)
}

// Kubeconfig writes a kubeconfig for the admin certificate and the API
// server at server (https://127.0.0.1:PORT) to path.
func (p PKI) Kubeconfig(path, server string) error {
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
`, server, p.Path(caCert), p.Path(adminCert), p.Path(adminKey))
	return os.WriteFile(path, []byte(cfg), 0o600)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// selfSigned returns a PEM certificate and key for name, self-signed,
// valid for a day: the dummy content of a kubernetes.io/tls Secret.
func selfSigned(name string) (certPEM, keyPEM []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	t := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, t, t, &k.PublicKey, k)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}
