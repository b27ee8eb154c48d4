// Package push sends a provider's local changes at once to other providers
// as immediate-mode sync feeds (SData sync 3.4, 5.8): best effort, with the
// next catch-up pass as the safety net.
package push

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"sdatasync/digest"
	"sdatasync/feeds"
	"sdatasync/sdata/client"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/syncurls"
	"sdatasync/sdata/wire"
)

// pushBatch is the most entries one immediate push carries; pushQueue the
// most changes of one kind waiting to be pushed (beyond it the queue is
// dropped and the push falls back to the current state of the changes).
const (
	pushBatch = 200
	pushQueue = 1000
)

// Pusher sends local changes at once to the configured targets as
// immediate-mode sync feeds (spec 3.4, 5.8). It is best effort: a push
// refused for a tick gap, or failing, is logged and left to the next
// catch-up pass. Notifications coalesce per kind, so the queue is bounded by
// the number of kinds and the local write path never waits for it.
type Pusher struct {
	site    *site.Site
	st      store.Store
	log     *slog.Logger
	limits  feeds.Limits
	targets []pushTarget

	mu     sync.Mutex
	queued map[epKey][]store.Resource // changes as they were committed, in tick order
	wake   chan struct{}
}

type epKey struct{ dataset, kind string }

// Config configures a Pusher.
type Config struct {
	Site    *site.Site
	Store   store.Store
	Log     *slog.Logger
	Targets []string     // dataset or resource-kind URLs of other providers; no user:password in them
	Client  *http.Client // nil: a default with a 30 s timeout
	// Credentials go with every push, each target getting them only at
	// its own origin (client.Client.Origin).
	Credentials client.Credentials
	MaxBody     int64        // the most bytes of an answer read
	Limits      feeds.Limits // XML limits of answers
}

// pushTarget is one --push-to URL: a dataset URL (every kind) or the URL of
// one resource kind.
type pushTarget struct {
	base   string // dataset URL without trailing slash
	kind   string // "" for every kind
	client *client.Client
}

// New checks the push targets and builds the pusher; Run pushes.
func New(cfg Config) (*Pusher, error) {
	hc := cfg.Client
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	p := &Pusher{site: cfg.Site, st: cfg.Store, log: cfg.Log, limits: cfg.Limits,
		queued: map[epKey][]store.Resource{}, wake: make(chan struct{}, 1)}
	for _, raw := range cfg.Targets {
		if client.HasUserInfo(raw) {
			return nil, fmt.Errorf("sdata: push target %s: a URL may not carry credentials (user:password@)", client.Redact(raw))
		}
		u, err := url.Parse(strings.TrimRight(raw, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("sdata: push target %q is not an http(s) URL", raw)
		}
		origin, err := client.Origin(u.String())
		if err != nil {
			return nil, err
		}
		t := pushTarget{base: u.String(), client: &client.Client{HTTP: hc, MaxAttempts: 1, MaxBody: cfg.MaxBody, Logger: cfg.Log,
			Credentials: cfg.Credentials, Origin: origin}}
		if i := strings.LastIndexByte(t.base, '/'); i > 0 {
			if k := cfg.Site.Contract.Kind(t.base[i+1:]); k != nil && k.PluralName == t.base[i+1:] {
				t.base, t.kind = t.base[:i], k.PluralName
			}
		}
		p.targets = append(p.targets, t)
	}
	return p, nil
}

// Notify queues a committed change of a kind; it never blocks. Keeping the
// change as committed (not re-reading it later) keeps the pushed ticks
// contiguous when the same resource changes again before the push.
func (p *Pusher) Notify(sc site.Scope, res store.Resource) {
	if !sc.Kind.IsSyncSource {
		return
	}
	k := epKey{sc.Dataset, sc.Kind.PluralName}
	p.mu.Lock()
	q := p.queued[k]
	if len(q) >= pushQueue {
		q = q[:0] // overflow: fall back to the current state (see pushKind)
	}
	p.queued[k] = append(q, res)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run pushes dirty kinds until ctx ends.
func (p *Pusher) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		p.mu.Lock()
		dirty := p.queued
		p.queued = map[epKey][]store.Resource{}
		p.mu.Unlock()
		for k, queued := range dirty {
			sc, ok := p.site.Scope(k.dataset, k.kind)
			if !ok {
				continue
			}
			for _, t := range p.targets {
				if t.kind != "" && t.kind != k.kind {
					continue
				}
				if err := p.pushKind(ctx, t.client, sc, t.base+"/"+k.kind, queued); err != nil && ctx.Err() == nil {
					p.log.Warn("immediate push not applied; the next catch-up pass will carry the change",
						"kind", k.kind, "target", t.base, "err", err)
				}
			}
		}
	}
}

// pushKind sends the changes made here that the target lacks, as
// immediate-mode feeds, starting at the target's tick for this endpoint: the
// queued changes as they were committed when they start right there, else
// the current state of every change from that tick on (which the target
// refuses as a gap when some of those changes were superseded).
func (p *Pusher) pushKind(ctx context.Context, c *client.Client, sc site.Scope, target string, queued []store.Resource) error {
	stamp := time.Now().UTC().Format(time.RFC3339)
	q := "?runName=immediate-push&runStamp=" + url.QueryEscape(stamp)
	body, err := do(ctx, c, http.MethodGet, target+"/$syncDigest"+q, nil)
	if err != nil {
		return err
	}
	td, err := feeds.ParseDigest(bytes.NewReader(body), p.limits)
	if err != nil {
		return fmt.Errorf("target digest: %w", err)
	}
	from := max(td.Tick(sc.Endpoint.URL), 1)
	if i := slices.IndexFunc(queued, func(c store.Resource) bool { return c.State.Tick >= from }); i >= 0 {
		queued = queued[i:] // what the target holds already is not sent again
	} else {
		queued = nil
	}
	useQueue := len(queued) > 0 && queued[0].State.Tick == from
	for {
		var changes []store.Resource
		var own digest.Digest
		var err error
		if useQueue {
			changes = queued[:min(len(queued), pushBatch)]
			queued = queued[len(changes):]
			if own, err = p.withUUIDs(ctx, sc, changes); err != nil {
				return err
			}
		} else if changes, own, err = p.st.OwnChanges(ctx, sc.Endpoint, from, pushBatch); err != nil {
			return err
		}
		if len(changes) == 0 {
			return nil
		}
		var buf bytes.Buffer
		fw, err := feeds.NewFeedWriter(&buf, &feeds.Feed{ID: sc.Endpoint.URL + "/$syncSource", Title: payload.Label(sc.Kind) + " immediate synchronization",
			Updated: wire.NowUTC(), SyncMode: "immediate", Digest: &own, TotalResults: -1})
		if err != nil {
			return err
		}
		for _, c := range changes {
			e, err := syncurls.Entry(p.site, sc, c)
			if err != nil {
				return err
			}
			if err := fw.WriteEntry(e); err != nil {
				return err
			}
		}
		if err := fw.Close(); err != nil {
			return err
		}
		if _, err := do(ctx, c, http.MethodPost, target+"/$syncTarget"+q, buf.Bytes()); err != nil {
			return err
		}
		p.log.Info("immediate push applied", "kind", sc.Kind.PluralName, "target", target, "entries", len(changes),
			"runName", "immediate-push", "runStamp", stamp)
		if useQueue && len(queued) == 0 || !useQueue && len(changes) < pushBatch {
			return nil
		}
		from = changes[len(changes)-1].State.Tick + 1
	}
}

// withUUIDs gives queued changes their UUIDs (a resource gets one when it
// first travels) and returns the digest to send with them: the current one,
// whose own tick covers every queued change.
func (p *Pusher) withUUIDs(ctx context.Context, sc site.Scope, changes []store.Resource) (digest.Digest, error) {
	var keys []string
	for _, c := range changes {
		if c.UUID == "" {
			keys = append(keys, c.Key)
		}
	}
	if len(keys) > 0 {
		ids, err := p.st.AssignUUIDs(ctx, sc.Endpoint, keys)
		if err != nil {
			return digest.Digest{}, err
		}
		for i := range changes {
			if changes[i].UUID == "" {
				changes[i].UUID = ids[changes[i].Key]
			}
		}
	}
	return p.st.Digest(ctx, sc.Endpoint)
}

// do sends one request, once: a push that fails is left to the next
// catch-up pass. Only 200 is success.
func do(ctx context.Context, c *client.Client, method, u string, body []byte) ([]byte, error) {
	res, err := c.Once(ctx, method, u, body, "application/atom+xml")
	if err != nil {
		return nil, err
	}
	if res.Status != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %d %s", method, u, res.Status, http.StatusText(res.Status))
	}
	return res.Body, nil
}
