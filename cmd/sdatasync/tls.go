package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"sdatasync/sdata/client"
)

// serveSecurity holds serve's TLS flags and the credentials and
// certificate checks of its pushes (--push-to).
type serveSecurity struct {
	tlsCert, tlsKey           string
	caCerts                   stringList
	insecure                  bool
	pushUser, pushCredentials string
}

// register adds the flags to serve's flag set (each also settable as
// SDATASYNC_<FLAG>, like every flag).
func (s *serveSecurity) register(fs *flag.FlagSet) {
	fs.StringVar(&s.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; reloaded on SIGHUP")
	fs.StringVar(&s.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	fs.Var(&s.caCerts, "ca-cert", "PEM file of a certificate authority to trust besides the system's for --push-to targets (repeatable)")
	fs.BoolVar(&s.insecure, "insecure-skip-verify", false, "accept any TLS certificate of --push-to targets (INSECURE: for trying a setup out only)")
	fs.StringVar(&s.pushUser, "push-user", "", "user name at the --push-to targets (password in SDATASYNC_PUSH_PASSWORD, or a token in SDATASYNC_PUSH_TOKEN)")
	fs.StringVar(&s.pushCredentials, "push-credentials", "", "credentials file (mode 0600) for the --push-to targets: key = value lines, keys user, password, token")
}

// scheme is the scheme of the provider's default base URL.
func (s *serveSecurity) scheme() string {
	if s.tlsCert != "" {
		return "https"
	}
	return "http"
}

// push returns the HTTP client and the credentials of the pusher; an
// empty push list needs neither.
func (s *serveSecurity) push(pushTo []string, log *slog.Logger) (*http.Client, client.Credentials, error) {
	if len(pushTo) == 0 {
		return nil, client.Credentials{}, nil
	}
	for _, u := range pushTo {
		if client.HasUserInfo(u) {
			return nil, client.Credentials{}, fmt.Errorf("--push-to %s: a URL may not carry credentials (user:password@); use --push-user with SDATASYNC_PUSH_PASSWORD or _TOKEN, or --push-credentials", client.Redact(u))
		}
	}
	cred, err := pushCredentials(s.pushUser, s.pushCredentials, os.Getenv)
	if err != nil {
		return nil, client.Credentials{}, err
	}
	hc, err := client.NewHTTPClient(client.TLSOptions{CAFiles: s.caCerts, InsecureSkipVerify: s.insecure}, 30*time.Second)
	if err != nil {
		return nil, client.Credentials{}, fmt.Errorf("--ca-cert: %w", err)
	}
	if s.insecure {
		log.Warn("--insecure-skip-verify: the certificates of push targets are not verified; anyone on the path can read and change the pushes, credentials included")
	}
	for _, u := range pushTo {
		warnPlainHTTP(log, "push target", u, cred)
	}
	return hc, cred, nil
}

// serverTLS is the provider's TLS: the certificate in use, replaced on
// SIGHUP by what the files then hold. A connection keeps the certificate
// of its handshake, so a reload drops none; a reload that fails (a
// missing file, a key that does not match) is logged and the certificate
// in use stays.
type serverTLS struct {
	certFile, keyFile string
	log               *slog.Logger
	cur               atomic.Pointer[tls.Certificate]
}

// startTLS loads the certificate and starts the SIGHUP watcher; stop ends
// the watcher and waits for it. Without --tls-cert it returns nil, and a
// SIGHUP (which log rotation tools send) is logged and ignored rather than
// ending the process, as it would by default.
func (s *serveSecurity) startTLS(log *slog.Logger) (t *serverTLS, stop func(), err error) {
	if s.tlsCert == "" && s.tlsKey == "" {
		return nil, onHUP(func() { log.Info("SIGHUP: nothing to reload (serve has no --tls-cert)") }), nil
	}
	if s.tlsCert == "" || s.tlsKey == "" {
		return nil, nil, errors.New("--tls-cert and --tls-key go together")
	}
	t = &serverTLS{certFile: s.tlsCert, keyFile: s.tlsKey, log: log}
	if err := t.load(); err != nil {
		return nil, nil, err
	}
	return t, t.watch(), nil
}

// load reads the certificate and its key and puts them in use.
func (t *serverTLS) load() error {
	c, err := tls.LoadX509KeyPair(t.certFile, t.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s / key %s: %w", t.certFile, t.keyFile, err)
	}
	t.cur.Store(&c)
	if c.Leaf != nil {
		t.log.Info("TLS certificate in use", "subject", c.Leaf.Subject.String(), "serial", c.Leaf.SerialNumber.String(),
			"notAfter", c.Leaf.NotAfter.UTC().Format(time.RFC3339))
		if time.Now().After(c.Leaf.NotAfter) {
			t.log.Warn("the TLS certificate has expired: clients will refuse it", "notAfter", c.Leaf.NotAfter)
		}
	}
	return nil
}

// watch reloads the certificate on every SIGHUP until the returned stop
// is called; stop waits for the watcher to end.
func (t *serverTLS) watch() (stop func()) {
	return onHUP(func() {
		if err := t.load(); err != nil {
			t.log.Error("TLS certificate reload failed; the certificate in use stays", "err", err)
		} else {
			t.log.Info("TLS certificate reloaded")
		}
	})
}

// onHUP calls fn on every SIGHUP until the returned stop is called; stop
// waits for the watcher to end.
func onHUP(fn func()) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	quit, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case <-quit:
				return
			case <-hup:
				fn()
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(quit)
		<-ended
	}
}

// config is the server's tls.Config: TLS 1.2 at least, the current
// certificate at every handshake.
func (t *serverTLS) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return t.cur.Load(), nil
		},
	}
}

// listen wraps the raw listener with TLS (nil t: plain HTTP). It goes
// under the connection cap and the request-line check, which then see
// the decrypted connection (and the cap's 503 goes over TLS).
func (t *serverTLS) listen(ln net.Listener) net.Listener {
	if t == nil {
		return ln
	}
	return tls.NewListener(ln, t.config())
}
