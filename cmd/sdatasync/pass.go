package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"sdatasync/sdata/client"
	"sdatasync/sdata/engine"
)

const passUsage = `Usage: sdatasync pass --source URL --target URL [flags]

Runs one catch-up synchronization pass from the source to the target (and
back with --both). Each URL is a dataset URL (http://host/sdata/{app}/{contract}/{dataset}:
every kind that is a sync source at the source and a sync target at the
target) or a resource kind URL (…/{dataset}/{kind}: that kind only).

Credentials: each provider gets its own, and only at the origin of its
URL. User names from --source-user, --target-user, --registry-user (or
--user for the source and the target); passwords and tokens (a token is
sent as a bearer token) from SDATASYNC_{SOURCE,TARGET,REGISTRY}_{PASSWORD,TOKEN},
SDATASYNC_PASSWORD / SDATASYNC_TOKEN (source and target), or a --credentials
file of mode 0600 with lines such as "source.user = ann",
"source.password = ...", "target.token = ..." (user, password and token
without a side hold for the source and the target). Never on the command line.

Exit status: 0 when every entry was applied or legitimately skipped
(resolved conflicts included), 1 when an entry failed or the pass failed,
2 on usage errors.

Flags:
`

// requestTimeout bounds one HTTP request of a pass; a request that times
// out is retried like any transient failure.
const requestTimeout = 2 * time.Minute

type passConfig struct {
	source, target, runName, runStamp, user string
	sourceUser, targetUser, registryUser    string
	credentials                             string
	registry                                string
	kinds, caCerts                          stringList
	both, json, insecure                    bool
	progress                                string
	pageSize                                int
	timeout                                 time.Duration
}

// pass implements `sdatasync pass`: progress on stderr, the summary table
// on stderr, the JSON summary on stdout with --json.
func pass(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c passConfig
	fs := flag.NewFlagSet("pass", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), passUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.source, "source", "", "source dataset or resource kind URL (required)")
	fs.StringVar(&c.target, "target", "", "target dataset or resource kind URL (required)")
	fs.StringVar(&c.registry, "registry", "", "registry (a provider URL or its $system/registry/-/endpoints URL) where --source/--target may be endpoint titles instead of URLs")
	fs.Var(&c.kinds, "kinds", "only these resource kinds (comma-separated, repeatable)")
	fs.BoolVar(&c.both, "both", false, "then synchronize back from the target to the source")
	fs.StringVar(&c.runName, "run-name", "sdatasync", "run name sent to the providers")
	fs.StringVar(&c.runStamp, "run-stamp", "", "run stamp sent to the providers (default: now, ISO 8601 UTC)")
	fs.IntVar(&c.pageSize, "page-size", 0, "entries per sync feed page (default: the source's)")
	fs.StringVar(&c.user, "user", "", "user name at the source and the target (password in SDATASYNC_PASSWORD, or a token in SDATASYNC_TOKEN)")
	fs.StringVar(&c.sourceUser, "source-user", "", "user name at the source (SDATASYNC_SOURCE_PASSWORD or _TOKEN)")
	fs.StringVar(&c.targetUser, "target-user", "", "user name at the target (SDATASYNC_TARGET_PASSWORD or _TOKEN)")
	fs.StringVar(&c.registryUser, "registry-user", "", "user name at the registry (SDATASYNC_REGISTRY_PASSWORD or _TOKEN)")
	fs.StringVar(&c.credentials, "credentials", "", "credentials file (mode 0600): key = value lines, keys [source.|target.|registry.]user, password, token")
	fs.Var(&c.caCerts, "ca-cert", "PEM file of a certificate authority to trust besides the system's (repeatable)")
	fs.BoolVar(&c.insecure, "insecure-skip-verify", false, "accept any TLS certificate (INSECURE: for trying a setup out only)")
	fs.BoolVar(&c.json, "json", false, "print a machine-readable summary on stdout")
	fs.StringVar(&c.progress, "progress", "", "progress on stderr: bar (a live progress bar with entries/s and ETA), plain (a line per page, for scripts and CI) or none (default: bar on a terminal, plain otherwise)")
	fs.DurationVar(&c.timeout, "timeout", 0, "give up after this long (0: no limit)")
	if err := refuseSecretFlags(args); err != nil {
		fmt.Fprintln(stderr, "sdatasync pass:", err)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := envDefaults(fs); err != nil {
		fmt.Fprintln(stderr, "sdatasync pass:", err)
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "sdatasync pass: "+format+"\n", a...)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case c.source == "" || c.target == "":
		return usageErr("--source and --target are required (sdatasync pass -h for help)")
	case c.pageSize < 0:
		return usageErr("--page-size must be >= 0")
	case c.timeout < 0:
		return usageErr("--timeout must be >= 0")
	}
	for _, f := range []struct{ name, u string }{{"--source", c.source}, {"--target", c.target}, {"--registry", c.registry}} {
		if client.HasUserInfo(f.u) {
			return usageErr("%s %s: a URL may not carry credentials (user:password@); see sdatasync pass -h", f.name, client.Redact(f.u))
		}
	}
	srcCred, tgtCred, regCred, err := passCredentials(c, os.Getenv)
	if err != nil {
		return usageErr("%v", err)
	}
	hc, err := client.NewHTTPClient(client.TLSOptions{CAFiles: c.caCerts, InsecureSkipVerify: c.insecure}, requestTimeout)
	if err != nil {
		return usageErr("--ca-cert: %v", err)
	}
	mode, err := progressMode(c.progress, isTerminal(stderr))
	if err != nil {
		return usageErr("%v", err)
	}
	pr := &progressPrinter{w: stderr, live: mode == progressBar, quiet: mode == progressNone}
	log := slog.New(slog.NewTextHandler(pr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if c.insecure {
		log.Warn("--insecure-skip-verify: TLS certificates are not verified; anyone on the path can read and change the traffic, credentials included")
	}
	if c.runStamp == "" {
		c.runStamp = time.Now().UTC().Format("2006-01-02T15:04:05Z")
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	// A source or target that is not a URL is a registered endpoint's title.
	// The registry is asked with its own credentials, never the providers'.
	regOrigin, _ := client.Origin(c.registry)
	warnPlainHTTP(log, "registry", c.registry, regCred)
	reg := &client.Client{HTTP: hc, Credentials: regCred, Origin: regOrigin, Logger: log}
	for _, side := range []*string{&c.source, &c.target} {
		if strings.Contains(*side, "://") {
			continue
		}
		if c.registry == "" {
			return usageErr("%q is not a URL; to name a registered endpoint by its title, give --registry", *side)
		}
		u, err := reg.ResolveRegistered(ctx, c.registry, *side)
		if err != nil {
			fmt.Fprintln(stderr, "sdatasync pass:", err)
			return 1
		}
		if client.HasUserInfo(u) {
			fmt.Fprintf(stderr, "sdatasync pass: the registry gives %s for %q: a URL carrying credentials, refused\n", client.Redact(u), *side)
			return 1
		}
		*side = u
	}
	warnPlainHTTP(log, "source", c.source, srcCred)
	warnPlainHTTP(log, "target", c.target, tgtCred)
	wire := &countingTransport{base: hc.Transport}
	e := &engine.Engine{
		Client:   &http.Client{Timeout: requestTimeout, Transport: wire},
		PageSize: c.pageSize,
		Logger:   log,
		Progress: pr.report,
	}
	sum, err := e.Pass(ctx, engine.PassOptions{Source: c.source, Target: c.target, Kinds: c.kinds, Both: c.both,
		RunName: c.runName, RunStamp: c.runStamp, SourceCredentials: srcCred, TargetCredentials: tgtCred})
	if errors.Is(err, engine.ErrBadOptions) {
		return usageErr("%v", err)
	}
	if sum != nil {
		writeSummary(stderr, sum)
	}
	if c.json {
		out := struct {
			*engine.Summary
			BytesSent     int64  `json:"bytesSent"`     // request bodies the engine sent
			BytesReceived int64  `json:"bytesReceived"` // response bodies it read
			Error         string `json:"error,omitempty"`
		}{Summary: sum, BytesSent: wire.sent.Load(), BytesReceived: wire.received.Load()}
		if sum == nil {
			out.Summary = &engine.Summary{RunName: c.runName, RunStamp: c.runStamp}
		}
		if err != nil {
			out.Error = err.Error()
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(out); werr != nil {
			fmt.Fprintln(stderr, "sdatasync pass: writing the JSON summary:", werr)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "sdatasync pass: failed:", err)
		return 1
	}
	if !sum.OK {
		fmt.Fprintln(stderr, "sdatasync pass: some entries failed")
		return 1
	}
	return 0
}

// warnPlainHTTP warns when credentials are to go over plain http to a
// host other than this machine: anyone on the path can read them.
func warnPlainHTTP(log *slog.Logger, side, u string, cred client.Credentials) {
	if cred.IsZero() || !strings.HasPrefix(strings.ToLower(u), "http://") || client.IsLoopback(u) {
		return
	}
	log.Warn("credentials go over plain http to another host: anyone on the path can read them; use https", "side", side,
		"url", client.Redact(u), "credentials", cred)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressPrinter shows the engine's progress: a live line per kind on a
// terminal, one log line per page otherwise. Log records written through
// it end the live line first.
type progressPrinter struct {
	w     io.Writer
	live  bool // a live line with a bar (--progress=bar)
	quiet bool // no progress at all (--progress=none)
	open  bool // a live line is on screen
}

func (p *progressPrinter) Write(b []byte) (int, error) {
	p.endLine()
	return p.w.Write(b)
}

func (p *progressPrinter) endLine() {
	if p.open {
		fmt.Fprintln(p.w)
		p.open = false
	}
}

func (p *progressPrinter) report(pr engine.Progress) {
	dir := shortURL(pr.Source) + " -> " + shortURL(pr.Target)
	entries := fmt.Sprint(pr.Entries)
	if pr.Total >= 0 {
		entries += "/" + fmt.Sprint(pr.Total)
	}
	if p.quiet {
		return
	}
	if !p.live {
		if pr.Phase == "page" {
			fmt.Fprintf(p.w, "pass: %s %s: page %d, %s entries, %.0f entries/s\n", pr.Kind, dir, pr.Page, entries, pr.Rate())
		}
		return
	}
	line := fmt.Sprintf("%-16s %s  %s", pr.Kind, dir, pr.Phase)
	if pr.Phase != "selecting" {
		line = fmt.Sprintf("%-16s %s  %s  page %d  %s entries  %.0f/s", pr.Kind, dir, progressBarOf(pr.Entries, pr.Total, barWidth), pr.Page, entries, pr.Rate())
	}
	if pr.Remaining > 0 && pr.Phase != "done" {
		line += "  ETA " + pr.Remaining.Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line)
	p.open = true
	if pr.Phase == "done" {
		p.endLine()
	}
}

// shortURL keeps the host and the dataset of a kind URL.
func shortURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) >= 2 {
		return u.Host + "/" + segs[len(segs)-2]
	}
	return u.Host
}

// writeSummary prints the per-kind summary table and the failures.
func writeSummary(w io.Writer, sum *engine.Summary) {
	fmt.Fprintf(w, "\nrun %s @ %s\n", sum.RunName, sum.RunStamp)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "kind\tdirection\tselected\tapplied\tskipped\tconflicts src/tgt\terrors\tpages\tduration\tentries/s\t")
	for _, k := range sum.Kinds {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d/%d\t%d\t%d\t%s\t%.0f\t\n", k.Kind, shortURL(k.Source)+" -> "+shortURL(k.Target),
			k.Selected, k.Applied, k.Skipped, k.ConflictsSource, k.ConflictsTarget, k.Errors, k.Pages,
			k.Duration.Round(time.Millisecond), k.EntriesPerSecond)
	}
	tw.Flush()
	for _, k := range sum.Kinds {
		if k.Err != "" {
			fmt.Fprintf(w, "%s %s: pass failed: %s\n", k.Kind, shortURL(k.Source)+" -> "+shortURL(k.Target), k.Err)
		}
		for _, f := range k.Failures {
			fmt.Fprintf(w, "%s %s: %s\n", k.Kind, shortURL(k.Source)+" -> "+shortURL(k.Target), f)
		}
	}
	state := "OK"
	if !sum.OK {
		state = "FAILED"
	}
	fmt.Fprintf(w, "%s in %.2fs\n", state, sum.Seconds)
}

// countingTransport counts the body bytes that cross the wire.
type countingTransport struct {
	base           http.RoundTripper
	sent, received atomic.Int64
}

// RoundTrip implements http.RoundTripper.
func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.ContentLength > 0 {
		t.sent.Add(r.ContentLength)
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, n: &t.received}
	return resp, nil
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
