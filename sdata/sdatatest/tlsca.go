package sdatatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// CA is a throwaway certificate authority made for one test: its key lives
// in memory only, and nothing it issues is ever committed. Certificates
// are ECDSA P-256 and valid for an hour.
type CA struct {
	// Cert is the CA's certificate; CertPEM is it in PEM.
	Cert    *x509.Certificate
	CertPEM []byte
	key     *ecdsa.PrivateKey
	serial  atomic.Int64
}

// NewCA makes a certificate authority named name.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"sdatasync tests"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &CA{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key: key}
	ca.serial.Store(1)
	return ca, nil
}

// Pool is a certificate pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// WriteCert writes the CA's certificate (PEM) into dir and returns the
// file's path, for --ca-cert.
func (ca *CA) WriteCert(dir string) (string, error) {
	f := filepath.Join(dir, fmt.Sprintf("ca-%s-%d.pem", ca.Cert.Subject.CommonName, ca.Cert.SerialNumber)) // the CA's name is the test's
	return f, os.WriteFile(f, ca.CertPEM, 0o644)
}

// Leaf is a server certificate issued by a CA.
type Leaf struct {
	// Cert is ready for a tls.Config; Serial tells certificates apart.
	Cert   tls.Certificate
	Serial *big.Int
	// CertPEM and KeyPEM are the certificate and its key in PEM, as
	// --tls-cert and --tls-key files hold them.
	CertPEM, KeyPEM []byte
}

// Issue makes a server certificate for hosts (IP addresses or DNS
// names; "127.0.0.1" when none).
func (ca *CA) Issue(hosts ...string) (*Leaf, error) {
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1"}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial.Add(1)),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	l := &Leaf{Serial: tmpl.SerialNumber,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})}
	if l.Cert, err = tls.X509KeyPair(l.CertPEM, l.KeyPEM); err != nil {
		return nil, err
	}
	return l, nil
}

// startServer starts the test server in front of a provider: plain HTTP,
// or HTTPS with a certificate for 127.0.0.1 from ca (TLS 1.2 at least).
func startServer(h http.Handler, ca *CA) (*httptest.Server, error) {
	if ca == nil {
		return httptest.NewServer(h), nil
	}
	leaf, err := ca.Issue("127.0.0.1")
	if err != nil {
		return nil, err
	}
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.Cert}, MinVersion: tls.VersionTLS12}
	s.StartTLS()
	return s, nil
}
