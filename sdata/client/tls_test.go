package client_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"sdatasync/sdata/client"
	"sdatasync/sdata/sdatatest"
)

// tlsServer serves "ok" over TLS with a certificate for 127.0.0.1 from
// ca, at most maxVersion when not 0, and counts handshakes.
func tlsServer(t *testing.T, ca *sdatatest.CA, maxVersion uint16) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	leaf, err := ca.Issue("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var hellos atomic.Int64
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	ts.TLS = &tls.Config{MaxVersion: maxVersion, Certificates: []tls.Certificate{leaf.Cert},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			hellos.Add(1)
			return nil, nil
		}}
	ts.Config.ErrorLog = discardLog()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts, &hellos
}

func newCA(t *testing.T, name string) *sdatatest.CA {
	t.Helper()
	ca, err := sdatatest.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func tlsClient(t *testing.T, o client.TLSOptions) *client.Client {
	t.Helper()
	hc, err := client.NewHTTPClient(o, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &client.Client{HTTP: hc, MaxAttempts: 4, MinBackoff: 1, MaxBackoff: 2}
}

// TestTLSVerification: a certificate of an unknown CA is refused in one
// attempt (not retried); the CA given as a file is trusted; skipping the
// verification works; a server limited to TLS 1.1 is refused, and so is
// a TLS 1.1 client by a provider's TLS configuration.
func TestTLSVerification(t *testing.T) {
	ca := newCA(t, "verify")
	ts, hellos := tlsServer(t, ca, 0)
	ctx := context.Background()

	_, err := tlsClient(t, client.TLSOptions{}).Do(ctx, http.MethodGet, ts.URL, nil, "")
	if err == nil || !client.IsTLSFailure(err) {
		t.Fatalf("unknown CA: %v", err)
	}
	if n := hellos.Load(); n != 1 {
		t.Errorf("unknown CA: %d handshakes, want 1 (no retry)", n)
	}

	caFile, err := ca.WriteCert(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if res, err := tlsClient(t, client.TLSOptions{CAFiles: []string{caFile}}).Do(ctx, http.MethodGet, ts.URL, nil, ""); err != nil || string(res.Body) != "ok" {
		t.Fatalf("with --ca-cert: %v", err)
	}
	if res, err := tlsClient(t, client.TLSOptions{InsecureSkipVerify: true}).Do(ctx, http.MethodGet, ts.URL, nil, ""); err != nil || string(res.Body) != "ok" {
		t.Fatalf("insecure: %v", err)
	}

	// The right CA, the wrong host name.
	other, err := ca.Issue("elsewhere.example")
	if err != nil {
		t.Fatal(err)
	}
	wrong := httptest.NewUnstartedServer(http.NotFoundHandler())
	wrong.TLS = &tls.Config{Certificates: []tls.Certificate{other.Cert}}
	wrong.Config.ErrorLog = discardLog()
	wrong.StartTLS()
	defer wrong.Close()
	if _, err := tlsClient(t, client.TLSOptions{CAFiles: []string{caFile}}).Do(ctx, http.MethodGet, wrong.URL, nil, ""); err == nil || !client.IsTLSFailure(err) {
		t.Errorf("wrong host name: %v", err)
	}

	old, oldHellos := tlsServer(t, ca, tls.VersionTLS11)
	if _, err := tlsClient(t, client.TLSOptions{CAFiles: []string{caFile}}).Do(ctx, http.MethodGet, old.URL, nil, ""); err == nil || !client.IsTLSFailure(err) {
		t.Errorf("a TLS 1.1 server: %v", err)
	}
	if n := oldHellos.Load(); n > 1 {
		t.Errorf("a TLS 1.1 server: %d handshakes, want at most 1 (no retry)", n)
	}

	// A provider started with sdatatest's TLS refuses a TLS 1.1 client.
	p := sdatatest.Start(t, sdatatest.Options{TLS: ca})
	cfg := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	if res, err := hc.Get(p.URL + "/healthz"); err == nil {
		res.Body.Close()
		t.Errorf("a TLS 1.1 client was served")
	}
	cfg.MaxVersion = tls.VersionTLS12
	hc = &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	res, err := hc.Get(p.URL + "/healthz")
	if err != nil {
		t.Fatalf("a TLS 1.2 client: %v", err)
	}
	res.Body.Close()
	if res.TLS == nil || res.TLS.Version != tls.VersionTLS12 {
		t.Errorf("TLS state %+v", res.TLS)
	}
}

// TestCAFileErrors: a missing file and a file without a certificate are
// errors naming the problem.
func TestCAFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []client.TLSOptions{{CAFiles: []string{dir + "/missing.pem"}}, {CAFiles: []string{writeFile(t, dir, "junk.pem", "not PEM")}}} {
		if _, err := client.NewHTTPClient(o, 0); err == nil {
			t.Errorf("%v: no error", o.CAFiles)
		}
	}
}

// discardLog silences a test server's handshake error logs.
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
