package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"sdatasync/feeds"
)

var baseRE = regexp.MustCompile(`^sdatasync serving (http://127\.0\.0\.1:\d+) `)

// startServe runs `serve` in this process on a fresh port, without
// authentication, and returns its base URL and the channel of its exit
// status.
func startServe(t *testing.T, db string) (string, chan int, *lockedBuffer) {
	t.Helper()
	return startServeWith(t, db, "--insecure-no-auth")
}

// startServeWith is startServe with more flags.
func startServeWith(t *testing.T, db string, flags ...string) (string, chan int, *lockedBuffer) {
	t.Helper()
	pr, pw := io.Pipe()
	var errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--log-level", "warn"}, flags...), pw, &errb)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("serve printed nothing (status %d); stderr %s", <-done, errb.String())
	}
	go io.Copy(io.Discard, pr)
	m := baseRE.FindStringSubmatch(sc.Text())
	if m == nil {
		t.Fatalf("first line %q", sc.Text())
	}
	return m[1], done, &errb
}

// stopServe stops a serve started in this process (SIGINT to the
// process: its handler is installed) and checks it exits 0.
func stopServe(t *testing.T, done chan int) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if st := <-done; st != 0 {
		t.Fatalf("serve exited %d", st)
	}
}

// TestShutdownFinishesInFlight: a SIGINT (as SIGTERM) stops taking new
// connections but lets a request in flight finish with its write
// committed, before the store closes.
func TestShutdownFinishesInFlight(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	base, done, errb := startServe(t, db)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	body := `<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><name>In flight Ltd</name><reference>FLY1</reference></tradingAccount>`
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Expect: 100-continue makes the server say when its handler starts
	// reading the body: from then on the request is in flight.
	fmt.Fprintf(conn, "POST /sdata/sdatasync/gcrm/-/tradingAccounts HTTP/1.1\r\nHost: %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		u.Host, len(body))
	rd := bufio.NewReader(conn)
	if line, err := rd.ReadString('\n'); err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	if _, err := rd.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	// Stop the server, and wait until it refuses new connections, i.e.
	// shutdown has begun; then send the body.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v; stderr %s", err, errb.String())
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("the request in flight answered %d, want 201: %s", res.StatusCode, b)
	}
	if st := <-done; st != 0 {
		t.Fatalf("serve exited %d; stderr %s", st, errb.String())
	}
	// Its write is in the store: a restart finds it.
	base2, done2, _ := startServe(t, db)
	res, err = http.Get(base2 + "/sdata/sdatasync/gcrm/-/tradingAccounts?where=" + url.QueryEscape("reference eq 'FLY1'"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := feeds.ParseFeed(res.Body, feeds.Limits{})
	res.Body.Close()
	if err != nil || f.TotalResults != 1 || !strings.Contains(f.Entries[0].Title, "In flight") {
		t.Fatalf("after restart: %+v %v", f, err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if st := <-done2; st != 0 {
		t.Fatalf("restarted serve exited %d", st)
	}
}
