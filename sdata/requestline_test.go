package sdata_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"sdatasync/feeds"
	"sdatasync/sdata"
)

// TestCheckRequestLines: a first request line net/http refuses in plain
// text is answered with a diagnosis; good requests, and several on one
// connection, pass untouched.
func TestCheckRequestLines(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok "+r.URL.Path) })}
	go hs.Serve(sdata.CheckRequestLines(ln))
	defer hs.Close()
	send := func(raw string) (*http.Response, string) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, raw)
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	for _, line := range []string{"GET /a b HTTP/1.1", "GET /a%zz HTTP/1.1", "GET /x HTTPS/9", "GET"} {
		res, body := send(line + "\r\nHost: x\r\n\r\n")
		if res.StatusCode != http.StatusBadRequest || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/xml") {
			t.Errorf("%q: %d %q", line, res.StatusCode, body)
			continue
		}
		if ds, err := feeds.ParseDiagnoses(strings.NewReader(body), feeds.Limits{}); err != nil || len(ds) != 1 || ds[0].SDataCode != "BadUrlSyntax" {
			t.Errorf("%q: diagnoses %v %v", line, ds, err)
		}
	}
	// Good requests, two on one connection.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two%20x HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	for _, want := range []string{"ok /one", "ok /two x"} {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || string(b) != want {
			t.Errorf("%d %q, want %q", res.StatusCode, b, want)
		}
	}
}
