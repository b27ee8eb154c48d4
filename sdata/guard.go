package sdata

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"sdatasync/feeds"
	"sdatasync/sdata/diag"
)

// Defaults of the request guards (Config.Stall, Config.MaxInFlight).
const (
	// DefaultStall is how long a request body or an answer may make no
	// progress before the connection is cut: a 16 MiB upload on a slow
	// link is fine as long as bytes keep coming.
	DefaultStall = 30 * time.Second
	// DefaultMaxInFlight is how many requests run at once; more are
	// answered 503 with Retry-After at once.
	DefaultMaxInFlight = 512
)

// guard bounds every request: at most MaxInFlight run at once (503 and
// Retry-After beyond), and a body that stops arriving or an answer the
// client stops reading is cut after Stall without progress.
func (s *Server) guard(next http.Handler) http.Handler {
	slots := make(chan struct{}, s.cfg.MaxInFlight)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		default:
			e := diag.New(diag.Unavailable, "the provider is busy: %d requests are running; try again shortly", s.cfg.MaxInFlight)
			e.RetryAfter = 1
			diag.Write(w, e)
			return
		}
		rc := http.NewResponseController(w)
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &stallReader{ReadCloser: r.Body, rc: rc, stall: s.cfg.Stall}
		}
		next.ServeHTTP(&stallWriter{ResponseWriter: w, rc: rc, stall: s.cfg.Stall}, r)
	})
}

// stallReader moves the connection's read deadline forward before every
// read of the body: only a body that stops arriving times out.
type stallReader struct {
	io.ReadCloser
	rc    *http.ResponseController
	stall time.Duration
}

func (b *stallReader) Read(p []byte) (int, error) {
	b.rc.SetReadDeadline(time.Now().Add(b.stall))
	return b.ReadCloser.Read(p)
}

// stallWriter moves the connection's write deadline forward before every
// write of the answer: only a client that stops reading times out.
type stallWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
}

func (w *stallWriter) Write(p []byte) (int, error) {
	w.rc.SetWriteDeadline(time.Now().Add(w.stall))
	return w.ResponseWriter.Write(p)
}

// Flush lets streaming handlers flush through the wrapper.
func (w *stallWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *stallWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// CapConnections wraps a listener so that at most max connections are
// open at once: a connection beyond the cap is answered 503 with
// Retry-After and closed at once (no open-file exhaustion, no client left
// hanging in the backlog).
func CapConnections(ln net.Listener, max int) net.Listener {
	return &capListener{Listener: ln, slots: make(chan struct{}, max)}
}

type capListener struct {
	net.Listener
	slots chan struct{}
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &slotConn{Conn: c, free: func() { <-l.slots }}, nil
		default:
			go refuse(c) // at the cap: this one never reaches the server
		}
	}
}

// refuse answers a connection over the cap with a 503 diagnosis.
func refuse(c net.Conn) {
	defer c.Close()
	var body bytes.Buffer
	e := diag.New(diag.Unavailable, "the provider has too many open connections; try again shortly")
	feeds.WriteDiagnoses(&body, e.Diagnoses)
	c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml; charset=utf-8\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: "+strconv.Itoa(body.Len())+"\r\n\r\n")
	c.Write(body.Bytes())
}

// slotConn frees its slot once when closed.
type slotConn struct {
	net.Conn
	once sync.Once
	free func()
}

func (c *slotConn) Close() error {
	c.once.Do(c.free)
	return c.Conn.Close()
}
