package sdata_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sdatasync/sdata"
	"sdatasync/sdata/engine"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

// chromium finds a Chromium binary ($SDATASYNC_CHROMIUM, then the usual
// names), or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SDATASYNC_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium binary found (apt-get install chromium, or set SDATASYNC_CHROMIUM): the console's browser tests are skipped")
	return ""
}

// browser is a headless Chromium tab that records console errors,
// uncaught exceptions and browser log errors.
type browser struct {
	t    *testing.T
	ctx  context.Context
	mu   sync.Mutex
	errs []string
	dir  string // screenshots
}

func newBrowser(t *testing.T) *browser {
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelA := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx}
	b.dir = os.Getenv("SDATASYNC_SCREENSHOTS")
	if b.dir == "" {
		b.dir = t.TempDir()
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("console screenshots in %s", b.dir)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancelB()
		cancelA()
		t.Fatalf("starting %s: %v", path, err)
	}
	msgs := chromedp.Console(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for m, err := range msgs {
			if err != nil {
				return // the context ended
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errs = append(b.errs, m.String()+" "+m.URL)
				b.mu.Unlock()
			}
		}
	})
	t.Cleanup(func() {
		cancelB()
		cancelA()
		wg.Wait()
	})
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// open goes to a console page and waits until it has rendered.
func (b *browser) open(base, hash, page string) {
	b.t.Helper()
	b.do(chromedp.Navigate(base+"/console/#/"+hash), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="`+page+`"]`)))
}

// text is the text content of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// eval evaluates a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("browser: %s: %v", expr, err)
	}
	return v
}

// until waits until a JavaScript expression is true.
func (b *browser) until(expr string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		b.t.Fatalf("browser: waiting for %s: %v", expr, err)
	}
}

// shot saves a full-page screenshot as name.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("browser: screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// noErrors fails the test if the page logged an error or threw.
func (b *browser) noErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errs {
		b.t.Errorf("browser: %s", e)
	}
	b.errs = nil
}

// gate holds POSTs of sync feed pages to a target while it is closed; each
// token sent on pass lets one through.
type gate struct {
	closed atomic.Bool
	pass   chan struct{}
}

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.closed.Load() && r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/$syncTarget") {
			select {
			case <-g.pass:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// TestConsoleInBrowser drives the console in a real headless Chromium
// against a provider that ran real passes with conflicts: every page loads
// without console errors, the numbers match the store, filtering works,
// live progress moves during a pass (held page by page), and restoring a
// losing version changes the data and shows in the audit log. A screenshot
// of each page is saved (SDATASYNC_SCREENSHOTS, else a temp dir, logged).
func TestConsoleInBrowser(t *testing.T) {
	b := newBrowser(t)
	g := &gate{pass: make(chan struct{})}
	src := newProvider(t, 3)
	dst := &provider{Provider: sdatatest.Start(t, sdatatest.Options{Config: func(c *sdata.Config) { c.ConflictPriority = 5 }, Wrap: g.wrap}), t: t}
	const kind = "tradingAccounts"
	conflicted(t, src, dst, 12, 3)
	ctx := t.Context()

	// Endpoints: the own cell of each kind is the store's digest tick.
	b.open(dst.URL, "endpoints", "endpoints")
	d, err := dst.Store.Digest(ctx, dst.endpoint(kind))
	if err != nil {
		t.Fatal(err)
	}
	own := b.text(`#endpoints tr[data-kind="` + kind + `"][data-dataset="-"] td.own`)
	if want := fmt.Sprint(d.Tick(dst.KindURL(kind))); own != want {
		t.Errorf("endpoints: own tick %q, the store's digest says %s", own, want)
	}
	peer := b.text(`#endpoints tr[data-kind="` + kind + `"][data-dataset="-"] td:last-child`)
	if want := fmt.Sprint(d.Tick(src.KindURL(kind))); peer != want {
		t.Errorf("endpoints: the source's tick %q, the store's digest says %s", peer, want)
	}
	// One header per peer, named after it (a header row that lost its
	// cells once rendered "[object HTMLTableCellElement]").
	if n := eval[int](b, `document.querySelectorAll("#endpoints thead th.peer").length`); n != 2 {
		t.Errorf("endpoints: %d peer headers, want 2 (this provider and the source)", n)
	}
	if h := b.text(`#endpoints thead`); strings.Contains(h, "[object") {
		t.Errorf("endpoints: the header row renders objects: %q", h)
	}
	b.shot("endpoints")

	// Runs: the store's figures, then filtered.
	b.open(dst.URL, "runs", "runs")
	runs, total, err := dst.Store.Runs(ctx, store.RunQuery{})
	if err != nil {
		t.Fatal(err)
	}
	rows := eval[int](b, `document.querySelectorAll('#runs tbody tr').length`)
	if rows != total || total != 2 {
		t.Fatalf("runs page: %d rows, the store has %d runs", rows, total)
	}
	for _, r := range runs {
		got := b.text(`#runs tr[data-run="` + r.RunName + `|` + r.RunStamp + `"] td.entries`)
		if got != fmt.Sprint(r.Entries) {
			t.Errorf("run %s: entries %q, the store says %d", r.RunName, got, r.Entries)
		}
	}
	b.shot("runs")
	b.do(chromedp.SetValue(chromedp.CSS(`#filters select[name="status"]`), "conflicts"), chromedp.Click(chromedp.CSS(`#filters button`)))
	b.until(`document.body.dataset.ready === 'runs' && location.hash.includes('status=conflicts') && document.querySelectorAll('#runs tbody tr').length === 1`)
	if got := b.text(`#runs tbody tr .run-link`); !strings.HasPrefix(got, "console-second") {
		t.Errorf("filtered by conflicts: %q, want console-second", got)
	}
	b.do(chromedp.SetValue(chromedp.CSS(`#filters select[name="status"]`), ""),
		chromedp.SetValue(chromedp.CSS(`#filters input[name="runName"]`), "console-first"), chromedp.Click(chromedp.CSS(`#filters button`)))
	// The hash changes at the click, before the new rows come: wait for the
	// row itself (the conflicts filter also left one row on the page).
	b.until(`document.body.dataset.ready === 'runs' && location.hash.includes('runName=console-first') && document.querySelectorAll('#runs tbody tr').length === 1 && document.querySelector('#runs tbody tr .run-link').textContent.startsWith('console-first')`)

	// A run's detail.
	b.do(chromedp.Click(chromedp.CSS(`#runs tbody tr .run-link`)), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="run"]`)))
	if got := b.text("#run-entries"); got != "12" {
		t.Errorf("run detail: %q entries in, want 12", got)
	}
	if got := b.text("#run-pages"); got != "3" {
		t.Errorf("run detail: %q pages, want 3", got)
	}
	b.shot("run")

	// Conflicts: as many as the store has; markup in payloads stays text.
	b.open(dst.URL, "conflicts", "conflicts")
	_, nconf, err := dst.Store.AuditLog(ctx, store.AuditQuery{Operation: "target.conflict"})
	if err != nil {
		t.Fatal(err)
	}
	rows = eval[int](b, `document.querySelectorAll('#conflicts tbody tr').length`)
	if rows != nconf || nconf != 3 {
		t.Errorf("conflicts page: %d rows, the store has %d", rows, nconf)
	}
	if eval[bool](b, `document.querySelector('main b') !== null`) {
		t.Error("a payload's markup became an element of the page")
	}
	if got := b.text(`#conflicts tbody tr td:nth-child(6)`); !strings.Contains(got, "Source <b>") {
		t.Errorf("winner's title %q: want the markup shown as text", got)
	}
	b.shot("conflicts")

	// One conflict side by side, then restore the losing version.
	b.do(chromedp.Click(chromedp.CSS(`#conflicts tbody tr a`)), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="conflict"]`)))
	differing := eval[[]string](b, `[...document.querySelectorAll('#diff tr.differs td.path')].map(e => e.textContent)`)
	if !strings.Contains(strings.Join(differing, " "), "name") {
		t.Errorf("differing fields %v, want name among them", differing)
	}
	loser := b.text(`#diff tr.differs td.loser`)
	if got := b.text("#rule"); !strings.HasPrefix(got, "priority") {
		t.Errorf("rule %q", got)
	}
	if got := b.text("#loser-state"); !strings.HasPrefix(got, dst.KindURL(kind)+" tick ") {
		t.Errorf("loser's state %q, want the target endpoint's", got)
	}
	b.shot("conflict")
	hash := eval[string](b, `location.hash`)
	id := hash[strings.Index(hash, "id=")+3:]
	b.do(chromedp.Click(chromedp.CSS("#restore")))
	b.until(`document.querySelector('#restores') !== null`)
	b.shot("conflict-restored")
	rec, _, err := dst.Store.AuditLog(ctx, store.AuditQuery{Operation: "console.restore", TrackingID: id})
	if err != nil || len(rec) != 1 {
		t.Fatalf("restore records for conflict %s: %v %v", id, rec, err)
	}
	var restored struct{ Key string }
	for _, f := range strings.Split(strings.Trim(rec[0].Detail, "{}"), ",") {
		if k, v, ok := strings.Cut(f, ":"); ok && k == `"key"` {
			restored.Key = strings.Trim(v, `"`)
		}
	}
	r, err := dst.Store.Get(ctx, dst.endpoint(kind), restored.Key)
	if err != nil || !strings.Contains(string(r.Payload), loser) {
		t.Errorf("after the restore %s holds %s (%v), want the loser's %q", restored.Key, r.Payload, err, loser)
	}

	// Charts: a point per run, bars for the conflicts of today.
	b.open(dst.URL, "charts", "charts")
	points := eval[int](b, `document.querySelectorAll('#throughput-chart circle').length`)
	bars := eval[int](b, `document.querySelectorAll('#conflicts-chart rect').length`)
	if points != 2 || bars != 1 {
		t.Errorf("charts: %d points (want 2 runs), %d bars (want 1: one kind, one day)", points, bars)
	}
	b.shot("charts")
	b.open(dst.URL, "registry", "registry")
	b.shot("registry")
	// Devices: a component and a device that synced through the
	// synchronize service.
	st, _, body := doWith(t, http.MethodPost, dst.URL+"/sdata/$system/mobile/components", []byte(accComponent), "Content-Type", "application/json")
	mustStatus(t, http.StatusCreated, st, body)
	syncOK(t, dst.URL, "tablet-7", "", `{"mDataRow": {"reference": "T7", "name": "Tablet Ltd", "currency": "EUR"}, "uid": "", "actionId": "0"}`)
	b.open(dst.URL, "devices", "devices")
	if got := b.text(`#components tr[data-component="acc"] td:nth-child(5)`); !strings.HasPrefix(got, "merge") {
		t.Errorf("devices: component acc's rule %q", got)
	}
	if got := b.text(`#devices tr[data-device="tablet-7"] td:nth-child(6)`); got != "ok" {
		t.Errorf("devices: tablet-7's status %q", got)
	}
	if got := b.text(`#devices tr[data-device="tablet-7"] td.syncs`); got != "1" {
		t.Errorf("devices: tablet-7's syncs %q", got)
	}
	b.shot("devices")
	b.open(dst.URL, "devices?device=nobody", "devices")
	if n := eval[int](b, `document.querySelectorAll('#devices tr[data-device]').length + (document.getElementById('no-devices') ? 100 : 0)`); n != 100 {
		t.Errorf("devices filtered on an unknown device: %d", n)
	}
	b.noErrors()

	// Live progress: a pass of 40 entries in pages of 10, held page by
	// page at the target while the jobs page polls.
	for i := range 40 {
		src.create(kind, ta("Live Ltd "+itoa(i), "L"+itoa(i)))
	}
	b.open(dst.URL, "jobs", "jobs")
	eval[bool](b, `window.notReloaded = true`)
	g.closed.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := (&engine.Engine{PageSize: 10}).Pass(ctx, engine.PassOptions{Source: src.KindURL(kind), Target: dst.KindURL(kind), RunName: "live"})
		done <- err
	}()
	entries := `(document.querySelector('#active-runs tr[data-run^="live|"] td.entries') || {}).textContent`
	for _, want := range []string{"10", "20"} {
		g.pass <- struct{}{}
		b.until(entries + ` === '` + want + `'`)
		b.shot("jobs-" + want)
	}
	g.closed.Store(false)
	close(g.pass)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b.until(entries + ` === '40'`)
	if !eval[bool](b, `window.notReloaded === true`) {
		t.Error("the live page reloaded")
	}
	b.shot("jobs")
	b.noErrors()
}
