package sdata_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sdatasync/sdata"
	"sdatasync/sdata/sdatatest"
)

// rawPost starts a POST of a body of n bytes on a new connection with
// Expect: 100-continue, and returns once the handler reads the body.
func rawPost(t *testing.T, p *sdatatest.Provider, path string, n int) (net.Conn, *bufio.Reader) {
	t.Helper()
	u, _ := url.Parse(p.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", path, u.Host, n)
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "100") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	br.ReadString('\n')
	return c, br
}

// TestStalledBodyIsCut: a body that stops arriving is cut after the stall
// timeout; one that keeps arriving slowly is not, however long it takes.
func TestStalledBodyIsCut(t *testing.T) {
	p := sdatatest.Start(t, sdatatest.Options{Config: func(c *sdata.Config) { c.Stall = time.Second }})
	path := "/sdata/sdatasync/gcrm/-/tradingAccounts"
	body := `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>Slow but steady</name></tradingAccount>`
	// Slow and steady: 5 bytes every 100 ms (a tenth of the stall timeout,
	// a margin for a loaded machine), twice the stall timeout in all.
	c, br := rawPost(t, p, path, len(body))
	defer c.Close()
	for i := 0; i < len(body); i += 5 {
		io.WriteString(c, body[i:min(i+5, len(body))])
		time.Sleep(100 * time.Millisecond)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("the slow body: %v %v", res, err)
	}
	// Stalled: half the body, then nothing.
	c2, br2 := rawPost(t, p, path, len(body))
	defer c2.Close()
	io.WriteString(c2, body[:10])
	c2.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound for the test only
	res, err = http.ReadResponse(br2, nil)
	if err == nil {
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode < 400 {
			t.Fatalf("a stalled body was taken: %d %s", res.StatusCode, b)
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept a stalled body's connection open")
	}
}

// TestInFlightCap: beyond MaxInFlight requests a request is answered 503
// with Retry-After at once; once one ends, requests are served again.
func TestInFlightCap(t *testing.T) {
	p := sdatatest.Start(t, sdatatest.Options{Config: func(c *sdata.Config) { c.MaxInFlight = 1 }})
	c, br := rawPost(t, p, "/sdata/sdatasync/gcrm/-/tradingAccounts", 200) // holds the one slot
	st, h, body := do(t, http.MethodGet, p.KindURL("tradingAccounts"), nil)
	mustStatus(t, http.StatusServiceUnavailable, st, body)
	if h.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", h.Get("Retry-After"))
	}
	diagnosesOf(t, body)
	io.WriteString(c, strings.Repeat(" ", 200))
	http.ReadResponse(br, nil)
	c.Close()
	for i := 0; ; i++ {
		st, _, body = do(t, http.MethodGet, p.KindURL("tradingAccounts"), nil)
		if st == http.StatusOK {
			break
		}
		if i == 100 {
			t.Fatalf("the slot never came back: %d %s", st, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConnectionCap: beyond the cap a connection is answered 503 and
// closed; a freed slot takes new connections again.
func TestConnectionCap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go hs.Serve(sdata.CapConnections(ln, 2))
	defer hs.Close()
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	get := func() *http.Response {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := get(); res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("over the cap: %d", res.StatusCode)
	}
	held[0].Close()
	for i := 0; ; i++ {
		if res := get(); res.StatusCode == http.StatusOK {
			break
		}
		if i == 100 {
			t.Fatal("the freed slot never took a connection")
		}
		time.Sleep(10 * time.Millisecond)
	}
	held[1].Close()
}

// TestStalledReaderIsCut: an answer the client stops reading is cut after
// the stall timeout, and the request's slot is free again.
func TestStalledReaderIsCut(t *testing.T) {
	p := sdatatest.Start(t, sdatatest.Options{Config: func(c *sdata.Config) { c.Stall, c.MaxInFlight = 200*time.Millisecond, 1 }})
	big := strings.Repeat("x", 1<<20-1)
	for i := 0; i < 24; i++ {
		el := mustParse(t, `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>N`+fmt.Sprint(i)+`</name><shortName>`+big+`</shortName></tradingAccount>`)
		if _, err := p.Server.CreateLocal(t.Context(), "-", "tradingAccounts", el, "test"); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := url.Parse(p.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// 24 MiB of answer that nobody reads.
	fmt.Fprintf(c, "GET /sdata/sdatasync/gcrm/-/tradingAccounts?count=24 HTTP/1.1\r\nHost: %s\r\n\r\n", u.Host)
	for i := 0; ; i++ {
		st, _, body := do(t, http.MethodGet, p.URL+"/healthz", nil)
		if st == http.StatusOK {
			break
		}
		if i == 500 {
			t.Fatalf("the stalled answer still holds its slot: %d %s", st, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
