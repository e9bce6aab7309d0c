package rig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// EtcdPKI is what a TLS cluster and its clients use, as PEM files in a
// test's temp dir: a CA, the members' serving pair (for 127.0.0.1) and a
// client pair the members accept (--client-cert-auth), plus a second CA
// that signed nothing the members trust (a client verifying with it must
// fail).
type EtcdPKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	OtherCA                                          string
}

// NewEtcdPKI writes a fresh PKI; keys are ECDSA P-256, valid for a day.
func NewEtcdPKI(t testing.TB) *EtcdPKI {
	t.Helper()
	dir := t.TempDir()
	ca, caKey := newCA(t, "wsm-e2e etcd CA")
	other, _ := newCA(t, "wsm-e2e unrelated CA")
	p := &EtcdPKI{
		CA: filepath.Join(dir, "ca.pem"), OtherCA: filepath.Join(dir, "other-ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem"),
	}
	writePEM(t, p.CA, "CERTIFICATE", ca.Raw)
	writePEM(t, p.OtherCA, "CERTIFICATE", other.Raw)
	server := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "etcd member"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	issue(t, server, ca, caKey, p.ServerCert, p.ServerKey)
	client := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "webservicemonitor"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	issue(t, client, ca, caKey, p.ClientCert, p.ClientKey)
	return p
}

// ClientTLS is a client configuration with the client pair and the CA.
func (p *EtcdPKI) ClientTLS(t testing.TB) *tls.Config {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey)
	if err != nil {
		t.Fatalf("loading the client pair: %v", err)
	}
	pemCA, err := os.ReadFile(p.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// HTTPClient fetches the members' /health with the client pair.
func (p *EtcdPKI) HTTPClient(t testing.TB) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: p.ClientTLS(t)}}
}

func newCA(t testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// issue signs tmpl with the CA and writes the pair.
func issue(t testing.TB, tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial(t)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatalf("issuing %s: %v", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, certPath, "CERTIFICATE", der)
	writePEM(t, keyPath, "PRIVATE KEY", keyDER)
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEM(t testing.TB, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

// StartEtcdClusterTLS starts n members that serve clients over TLS only and
// require a client certificate signed by the PKI's CA (peers stay plain
// http on loopback).
func StartEtcdClusterTLS(t testing.TB, n int) (*EtcdCluster, *EtcdPKI) {
	t.Helper()
	pki := NewEtcdPKI(t)
	return startEtcdCluster(t, n, pki), pki
}

// clientScheme is the members' client URL scheme.
func (c *EtcdCluster) clientScheme() string {
	if c.pki != nil {
		return "https://"
	}
	return "http://"
}

// tlsFlags are a member's flags for serving clients over TLS.
func (c *EtcdCluster) tlsFlags() []string {
	if c.pki == nil {
		return nil
	}
	return []string{"--cert-file", c.pki.ServerCert, "--key-file", c.pki.ServerKey,
		"--trusted-ca-file", c.pki.CA, "--client-cert-auth"}
}

// health fetches a member's /health, over TLS with the client pair when
// the cluster is a TLS one.
func (c *EtcdCluster) health(m *EtcdMember) (int, []byte, error) {
	url := c.clientScheme() + m.Client + "/health"
	if c.pki == nil {
		return Get(url)
	}
	resp, err := c.pki.HTTPClient(c.t).Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, body, err
}
