package sdata

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"sdatasync/feeds"
	"sdatasync/sdata/diag"
)

// maxRequestLine is the most bytes of a request line CheckRequestLines
// reads to judge it (longer lines are left to the HTTP server).
const maxRequestLine = 64 << 10

// CheckRequestLines wraps a listener so that a connection whose first
// request line net/http would refuse with a plain-text 400 (a raw space or
// a bad % escape in the URL, a malformed HTTP version) is answered with an
// sdata:diagnoses document instead, and closed. Later requests of a
// keep-alive connection are the HTTP server's to judge.
func CheckRequestLines(ln net.Listener) net.Listener { return &lineListener{Listener: ln} }

type lineListener struct{ net.Listener }

func (l *lineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lineConn{Conn: c}, nil
}

// lineConn checks the first request line of its connection on first Read.
type lineConn struct {
	net.Conn
	once    sync.Once
	pending []byte // bytes read while checking, handed out first
	err     error
}

func (c *lineConn) Read(p []byte) (int, error) {
	c.once.Do(c.check)
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(p)
}

// check reads the first line; a malformed one is answered and the
// connection closed.
func (c *lineConn) check() {
	br := bufio.NewReaderSize(c.Conn, 4096)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil || err != bufio.ErrBufferFull || len(line) > maxRequestLine {
			break
		}
	}
	rest, _ := br.Peek(br.Buffered())
	c.pending = append(line, rest...)
	if !bytes.HasSuffix(line, []byte("\n")) || len(line) > maxRequestLine {
		return // incomplete or huge: the HTTP server decides
	}
	if msg := badRequestLine(strings.TrimRight(string(line), "\r\n")); msg != "" {
		c.pending = nil
		c.err = net.ErrClosed
		var body bytes.Buffer
		feeds.WriteDiagnoses(&body, diag.New(diag.BadURL, "%s", msg).Diagnoses)
		c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c.Conn, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", body.Len())
		c.Conn.Write(body.Bytes())
		c.Conn.Close()
	}
}

// badRequestLine says what is wrong with a request line ("" when nothing
// this check knows).
func badRequestLine(line string) string {
	if line == "" {
		return "" // the server skips leading empty lines
	}
	method, rest, ok := strings.Cut(line, " ")
	if !ok || method == "" {
		return fmt.Sprintf("malformed request line %q", line)
	}
	target, proto, ok := strings.Cut(rest, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/") || strings.Contains(proto, " ") {
		return fmt.Sprintf("malformed request line %q: a URL holds no raw spaces (encode them as %%20)", line)
	}
	if _, err := url.ParseRequestURI(target); err != nil && target != "*" {
		return fmt.Sprintf("malformed URL %q: %v", target, err)
	}
	return ""
}
