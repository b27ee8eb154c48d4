package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"sdatasync/sdata/devjobs"
	"sdatasync/sdata/store"
)

// serveChild starts `sdatasync serve` over db at addr and waits until it
// answers.
func serveChild(t *testing.T, exe, db, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(exe, "serve", "--db", db, "--addr", addr, "--base-url", "http://"+addr, "--log-level", "warn", "--insecure-no-auth")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if res, err := http.Get("http://" + addr + "/healthz"); err == nil {
			res.Body.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the provider did not start")
		}
	}
}

// TestDeviceJobKill9: the real binary is killed with SIGKILL in the middle
// of a device job of 20,000 rows (kept as an upload: over 500 KB inline);
// restarted over the same database, it finishes the job: every row merged
// once, every result in the answer, no resource twice.
func TestDeviceJobKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	exe := buildBinary(t, dir)
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	base, db := "http://"+addr, filepath.Join(dir, "kill.db")
	st, err := store.OpenSQLite(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	putComponent(t, st, base, accountsComponent())
	st.Close()

	const n = 20000
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = map[string]any{"actionId": 0, "mDataRow": map[string]any{"reference": fmt.Sprintf("K%05d", i), "name": fmt.Sprintf("Kill %d", i), "currency": "EUR"}}
	}
	child := serveChild(t, exe, db, addr)
	defer func() { child.Process.Kill(); child.Wait() }()
	var started struct{ SyncJobUUID, URI string }
	jobCall(t, http.MethodPost, base+"/sync", map[string]any{"DeviceExternalID": "k1", "ClientDBUUID": "k1-db", "BrandedAppID": "fieldsales",
		"SoftwareVersion": "3.1", "LocalDataUpdates": map[string]any{"accounts": rows}}, &started)
	var in devjobs.JobInfo
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(2 * time.Millisecond) {
		jobCall(t, http.MethodGet, base+started.URI, nil, &in)
		if in.Status == "running" && in.LocalRows > 0 {
			break
		}
		if in.Status != "queued" && in.Status != "running" || time.Now().After(deadline) {
			t.Fatalf("the job was not caught running: %+v", in)
		}
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	t.Logf("killed with %d of %d rows merged", in.LocalRows, n)

	child = serveChild(t, exe, db, addr)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		jobCall(t, http.MethodGet, base+started.URI, nil, &in)
		if in.Status != "queued" && in.Status != "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still %s after the restart", in.Status)
		}
	}
	if in.Status != "done" || in.LocalRows != n {
		t.Fatalf("after the restart: %+v", in)
	}
	// RemoteDataUpdates: the device's own rows as merged, each once.
	if in.RemoteRows != n {
		t.Errorf("RemoteDataUpdates holds %d rows, want the %d rows of the device once each", in.RemoteRows, n)
	}
	var local jobAnswer
	jobCall(t, http.MethodGet, in.LocalDataUpdatesResponseURL, nil, &local)
	uids := map[string]bool{}
	for i, r := range local.LocalDataUpdatesResponse["accounts"] {
		if r.RowStatus == nil || *r.RowStatus != 0 || uids[r.UID] || field(r, "reference") != fmt.Sprintf("K%05d", i) {
			t.Fatalf("result %d: %+v (rowStatus %v)", i, r, r.RowStatus)
		}
		uids[r.UID] = true
	}
	if len(uids) != n {
		t.Fatalf("%d results", len(uids))
	}
	child.Process.Signal(syscall.SIGTERM)
	child.Wait()
	st, err = store.OpenSQLite(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, r := st.DB()
	var stored, distinct int
	if err := r.QueryRow(`SELECT count(*), count(DISTINCT json_extract(props, '$.reference')) FROM resources r JOIN endpoints e ON e.id = r.endpoint_id
		WHERE e.kind = 'tradingAccounts' AND NOT r.deleted`).Scan(&stored, &distinct); err != nil {
		t.Fatal(err)
	}
	if stored != n || distinct != n {
		t.Fatalf("%d trading accounts stored (%d distinct references), want %d", stored, distinct, n)
	}
}
