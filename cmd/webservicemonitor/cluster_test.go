package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/internal/config"
)

// A single host joins no cluster: nothing of etcd is built.
func TestSingleHostJoinsNoCluster(t *testing.T) {
	cl, err := joinCluster(&config.Config{EtcdPrefix: "/webservicemonitor/"}, zerolog.Nop())
	if cl != nil || err != nil {
		t.Fatalf("joinCluster without endpoints = %v, %v", cl, err)
	}
}

func TestEtcdTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	plain, secure := []string{"http://127.0.0.1:2379"}, []string{"https://etcd1:2379"}
	tests := []struct {
		name      string
		cfg       config.Config
		wantTLS   bool
		wantCerts int
		wantRoots bool
		wantErr   string
	}{
		{"plain http", config.Config{EtcdEndpoints: plain}, false, 0, false, ""},
		{"https, system roots", config.Config{EtcdEndpoints: secure}, true, 0, false, ""},
		{"client pair and ca", config.Config{EtcdEndpoints: secure, EtcdCert: cert, EtcdKey: key, EtcdCA: cert}, true, 1, true, ""},
		{"ca without pem", config.Config{EtcdEndpoints: secure, EtcdCA: garbage}, false, 0, false, "holds no PEM certificate"},
		{"key that is not one", config.Config{EtcdEndpoints: secure, EtcdCert: cert, EtcdKey: garbage}, false, 0, false, "loading etcd-cert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := etcdTLS(&tt.cfg)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case (got != nil) != tt.wantTLS:
				t.Fatalf("TLS config %v, want one: %v", got, tt.wantTLS)
			case got != nil && (len(got.Certificates) != tt.wantCerts || (got.RootCAs != nil) != tt.wantRoots):
				t.Errorf("%d client certificates, roots %v", len(got.Certificates), got.RootCAs != nil)
			}
		})
	}
}

// writePair writes a self-signed certificate and its key.
func writePair(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wsm"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	for path, block := range map[string]*pem.Block{cert: {Type: "CERTIFICATE", Bytes: der}, key: {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key
}

// What only knows the state file is refused with etcd-endpoints; the
// daemon, --once and check-config are not, nor anything on a single host.
func TestUnsharedCommandsRefused(t *testing.T) {
	ep := []string{"http://127.0.0.1:2379"}
	tests := []struct {
		cfg  config.Config
		want string
	}{
		{config.Config{EtcdEndpoints: ep, Command: config.CommandRun, MigrateDown: -1}, ""},
		{config.Config{EtcdEndpoints: ep, Command: config.CommandRun, Once: true, MigrateDown: -1}, ""},
		{config.Config{EtcdEndpoints: ep, Command: config.CommandCheckConfig, MigrateDown: -1}, ""},
		{config.Config{Command: config.CommandPause, MigrateDown: -1}, ""},
		{config.Config{DryRun: true, MigrateDown: -1}, ""},
		{config.Config{EtcdEndpoints: ep, Command: config.CommandStatus, MigrateDown: -1}, ""},
		{config.Config{EtcdEndpoints: ep, Command: config.CommandPause, MigrateDown: -1}, ""},
		{config.Config{EtcdEndpoints: ep, Command: config.CommandValveRelease, MigrateDown: -1}, ""},
		{config.Config{EtcdEndpoints: ep, Command: config.CommandStateImport, MigrateDown: -1}, ""},
		{config.Config{EtcdEndpoints: ep, Command: config.CommandRun, DryRun: true, MigrateDown: -1}, ""},
		{config.Config{EtcdEndpoints: ep, Command: config.CommandRun, MigrateDown: 0}, "--migrate-down"},
		{config.Config{EtcdEndpoints: ep, Command: config.CommandRun, ResetHistory: true, MigrateDown: -1}, "--reset-history"},
	}
	for _, tt := range tests {
		if got := unshared(&tt.cfg); got != tt.want {
			t.Errorf("unshared(%+v) = %q, want %q", tt.cfg.Command, got, tt.want)
		}
	}
}
