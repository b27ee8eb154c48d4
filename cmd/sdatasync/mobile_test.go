package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// TestServeMobileComponents: serve --mobile-components loads a component
// file at start (and refuses to start on an invalid one).
func TestServeMobileComponents(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`[{"alias": "x", "kind": "nothing", "rowIdentifiers": ["reference"], "conflictRule": "serverWins", "apps": [{"name": "a", "versions": ["*"]}]}]`), 0o600)
	var errb lockedBuffer
	if st := run([]string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "b.db"), "--mobile-components", bad, "--insecure-no-auth", "--log-level", "warn"}, io.Discard, &errb); st == 0 ||
		!strings.Contains(errb.String(), "nothing") {
		t.Fatalf("an invalid component file: status %d, stderr %s", st, errb.String())
	}

	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`[{"alias": "accounts", "kind": "tradingAccounts", "rowIdentifiers": ["reference"], "filterKeys": ["currency"],
		"conflictRule": "merge", "mergeFallback": "serverWins", "storeBusinessData": true, "apps": [{"name": "sales", "versions": ["2.0"]}]}]`), 0o600)
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "g.db"), "--mobile-components", good, "--insecure-no-auth", "--log-level", "warn"}, pw, &errb)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("serve printed nothing (status %d); stderr %s", <-done, errb.String())
	}
	go io.Copy(io.Discard, pr)
	m := regexp.MustCompile(`^sdatasync serving (http://127\.0\.0\.1:\d+) `).FindStringSubmatch(sc.Text())
	if m == nil {
		t.Fatalf("first line %q", sc.Text())
	}
	res, err := http.Get(m[1] + "/sdata/$system/mobile/components('accounts')")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), `"mergeFallback":"serverWins"`) {
		t.Errorf("component: %d %s", res.StatusCode, b)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if st := <-done; st != 0 {
		t.Errorf("serve exited %d; stderr %s", st, errb.String())
	}
}
