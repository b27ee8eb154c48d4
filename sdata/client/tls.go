package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// TLSOptions say how a client verifies the certificates of the providers
// it talks to over https.
type TLSOptions struct {
	// CAFiles are PEM files of certificate authorities trusted besides the
	// system's (a private CA of a provider).
	CAFiles []string
	// InsecureSkipVerify accepts any certificate: anyone on the path can
	// then read and change the traffic, credentials included. For tests of
	// a setup, never for production; whoever sets it should say so loudly.
	InsecureSkipVerify bool
}

// Config builds the client's tls.Config: TLS 1.2 at least, the system's
// certificate authorities plus CAFiles.
func (o TLSOptions) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // explicit, warned by the caller
	if len(o.CAFiles) == 0 {
		return cfg, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range o.CAFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("CA certificate file: %w", err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("CA certificate file %s: no PEM certificate in it", f)
		}
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// NewHTTPClient returns an http.Client with its own transport (a clone of
// http.DefaultTransport) that verifies certificates as o says; timeout
// bounds one request (0: no bound).
func NewHTTPClient(o TLSOptions, timeout time.Duration) (*http.Client, error) {
	cfg, err := o.Config()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// IsTLSFailure reports whether err is a failure to establish TLS: a
// certificate that does not verify (unknown authority, wrong host name,
// expired), a handshake the provider refused (a TLS alert, such as a
// protocol version it does not accept), or an answer that is not TLS at
// all. Retrying cannot fix any of them, so Do does not.
func IsTLSFailure(err error) bool {
	var (
		cve  *tls.CertificateVerificationError
		uae  x509.UnknownAuthorityError
		hne  x509.HostnameError
		cie  x509.CertificateInvalidError
		rhe  tls.RecordHeaderError
		alrt tls.AlertError
		ope  *net.OpError
	)
	switch {
	case errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cie),
		errors.As(err, &rhe), errors.As(err, &alrt):
		return true
	case errors.As(err, &ope) && ope.Op == "remote error":
		// crypto/tls reports an alert the peer sent as a *net.OpError
		// "remote error" wrapping the alert.
		return true
	}
	// The handshake errors crypto/tls makes up itself (a server that
	// chose a protocol version below the minimum...) are plain errors
	// whose message starts with "tls: ".
	for e := err; e != nil; e = errors.Unwrap(e) {
		if errors.Unwrap(e) == nil {
			return strings.HasPrefix(e.Error(), "tls: ")
		}
	}
	return false
}
