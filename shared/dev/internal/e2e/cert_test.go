package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	h "github.com/porthole-dev/porthole/shared/dev/internal/harness"
)

// writeCA makes a CA and a server certificate for 127.0.0.1 signed by it,
// and returns the paths of the CA certificate, the server certificate and
// its key.
func writeCA(t *testing.T, dir string) (caPath, certPath, keyPath string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Porthole test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "relay.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(srvKey)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("relay.pem", "CERTIFICATE", srvDER), write("relay.key", "PRIVATE KEY", keyDER)
}

// TestRealCertificate runs the relay with a certificate from a CA instead of
// its self-signed identity: clients that trust the CA need no fingerprint,
// and clients that do not are told the relay is untrusted.
func TestRealCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	dir := t.TempDir()
	caPath, certPath, keyPath := writeCA(t, dir)
	relayDir := filepath.Join(dir, "relay")
	pw := h.AddAgent(t, relayDir, "alice", "correct horse battery")
	r := h.StartRelay(t, relayDir, "127.0.0.1:0", "--cert", certPath, "--key", keyPath)
	bins := h.Binaries(t)

	t.Setenv("SSL_CERT_FILE", caPath) // inherited by the programs: the system roots they trust
	agent := h.Start(t, "agent", filepath.Join(bins, "porthole-agent"), "--headless", "--relay", r.Addr,
		"--name", "alice", "--password-file", pw, "--data", filepath.Join(dir, "agent"))
	agent.Expect("ready", nil)
	_, key, _ := h.NewSession(t, agent)
	cust := h.Start(t, "customer", filepath.Join(bins, "porthole-customer"), "--headless", "--relay", r.Addr,
		"--key", key, "--data", filepath.Join(dir, "customer"))
	cust.Expect("connected", nil)

	os.Unsetenv("SSL_CERT_FILE") // now the CA is unknown
	untrusting := h.Start(t, "customer", filepath.Join(bins, "porthole-customer"), "--headless", "--relay", r.Addr,
		"--key", "1234-5678-123-456", "--data", filepath.Join(dir, "customer2"))
	if e := untrusting.Expect("error", nil); e.S("code") != "relay_untrusted" {
		t.Fatalf("untrusted relay certificate: %v, want relay_untrusted", e)
	}
	// A wrong pin is refused as well.
	pinned := h.Start(t, "customer", filepath.Join(bins, "porthole-customer"), "--headless", "--relay", r.Addr,
		"--relay-fingerprint", "sha256:00000000000000000000000000000000000000000000000000000000000000ff",
		"--key", "1234-5678-123-456", "--data", filepath.Join(dir, "customer3"))
	if e := pinned.Expect("error", nil); e.S("code") != "relay_untrusted" {
		t.Fatalf("wrong fingerprint: %v, want relay_untrusted", e)
	}
}
