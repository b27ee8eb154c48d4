// The providers under test: in-process (sdatatest), or `sdatasync serve`
// child processes that can be killed and restarted.

package converge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"sdatasync/sdata"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

// Node is one provider under test: an in-process provider started by
// sdatatest, or a `sdatasync serve` child process.
type Node struct {
	Name     string
	Priority int    // conflict priority of every kind of the node
	DB       string // SQLite file
	BaseURL  string // http://127.0.0.1:port

	// in-process
	p *sdatatest.Provider

	// child process
	bin     string
	logPath string
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
}

// DatasetURL is the URL of the node's default dataset.
func (n *Node) DatasetURL() string { return n.BaseURL + "/sdata/sdatasync/gcrm/-" }

// KindURL is the URL of a resource kind at the node; it is also the kind's
// endpoint URL in sync states and digests.
func (n *Node) KindURL(kind string) string { return n.DatasetURL() + "/" + kind }

// StartInProcess starts a provider in this process on a fresh httptest
// server (127.0.0.1, a free port) over the SQLite file db.
func StartInProcess(ctx context.Context, name, db string, priority int) (*Node, error) {
	p, err := sdatatest.New(ctx, sdatatest.Options{DB: db, Config: func(c *sdata.Config) { c.ConflictPriority = priority }, Auth: harnessAuth()})
	if err != nil {
		return nil, err
	}
	return &Node{Name: name, Priority: priority, DB: db, BaseURL: p.URL, p: p}, nil
}

// openStore is the open store of an in-process node, nil for a child node.
func (n *Node) openStore() *store.SQLite {
	if n.p == nil {
		return nil
	}
	return n.p.Store
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// StartChild starts `bin serve` as a child process listening on addr
// (127.0.0.1:port) over db, and waits until it answers /healthz. Its
// standard error goes to logPath.
func StartChild(ctx context.Context, bin, name, db, addr, logPath string, priority int) (*Node, error) {
	n := &Node{Name: name, Priority: priority, DB: db, BaseURL: "http://" + addr, bin: bin, logPath: logPath}
	if err := addHarnessUser(ctx, bin, db); err != nil {
		return nil, err
	}
	if err := n.Restart(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// Restart starts the child process again (it must not be running) on the
// same database and address and waits for /healthz.
func (n *Node) Restart(ctx context.Context) error {
	if n.bin == "" {
		return errors.New("converge: Restart of an in-process node")
	}
	addr := strings.TrimPrefix(n.BaseURL, "http://")
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	// The port may still be held for a moment after a kill: retry a few times.
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(n.bin, "serve", "--addr", addr, "--db", n.DB, "--base-url", n.BaseURL,
			"--conflict-priority", strconv.Itoa(n.Priority), "--log-level", "warn")
		cmd.Stdout, cmd.Stderr = io.Discard, logf
		if err := cmd.Start(); err != nil {
			return err
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		n.mu.Lock()
		n.cmd, n.exited = cmd, exited
		n.mu.Unlock()
		err := waitHealthy(ctx, n.BaseURL, exited, 30*time.Second)
		if err == nil {
			return nil
		}
		n.Kill()
		if attempt >= 4 {
			return fmt.Errorf("converge: starting %s: %w (log %s)", n.Name, err, n.logPath)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitHealthy polls base/healthz until it answers 200, the process exits or
// the time is up.
func waitHealthy(ctx context.Context, base string, exited <-chan struct{}, limit time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("process exited")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if res, err := c.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("no answer on /healthz")
}

// Kill sends SIGKILL to a child node and waits for it to exit; it does
// nothing for a node that is not running.
func (n *Node) Kill() { n.signal(syscall.SIGKILL) }

// Stop shuts a child node down gracefully (SIGTERM, then SIGKILL after ten
// seconds) and waits for it to exit.
func (n *Node) Stop() { n.signal(syscall.SIGTERM) }

func (n *Node) signal(sig syscall.Signal) {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// Close stops the node (in-process: server, store and listener; child:
// SIGKILL).
func (n *Node) Close() {
	if n.bin != "" {
		n.Kill()
		return
	}
	if n.p != nil {
		n.p.Close()
	}
}

// TempDB returns a database path for node name under dir.
func TempDB(dir, name string) string { return filepath.Join(dir, name+".db") }
