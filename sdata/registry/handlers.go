package registry

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"sdatasync/feeds"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// Config configures a Service.
type Config struct {
	Site    *site.Site
	Store   store.Store
	Log     *slog.Logger
	MaxBody int64
	Limits  feeds.Limits
}

// Service serves the registry of one provider.
type Service struct {
	site    *site.Site
	st      store.Store
	log     *slog.Logger
	maxBody int64
	limits  feeds.Limits
}

// New builds the service.
func New(cfg Config) *Service {
	return &Service{site: cfg.Site, st: cfg.Store, log: cfg.Log, maxBody: cfg.MaxBody, limits: cfg.Limits}
}

// url is the URL of the endpoints collection, entryURL one entry's.
func (s *Service) url() string { return s.site.Base + Path }
func (s *Service) entryURL(key string) string {
	return s.url() + "('" + url.PathEscape(strings.ReplaceAll(key, "'", "''")) + "')"
}

// ownEndpoints builds this provider's own registry entries; alive is their
// aliveStamp (the ETag does not depend on it).
func (s *Service) ownEndpoints(alive time.Time) ([]store.RegistryEntry, error) {
	type own struct{ key, typ, title, url, ds string }
	app, c := s.site.App, s.site.Contract.Name
	list := []own{
		{"self.application", EndpointTypeApplication, app + " application", s.site.AppURL(), ""},
		{"self.contract", EndpointTypeContract, app + " " + c + " contract", s.site.ContractURL(), ""},
	}
	for _, ds := range s.site.Datasets() {
		list = append(list, own{"self.dataSet." + ds, EndpointTypeDataSet, app + " " + c + " dataset " + ds, s.site.DatasetURL(ds), ds})
	}
	out := make([]store.RegistryEntry, 0, len(list))
	for _, o := range list {
		ep := &regEndpoint{vals: map[string]*string{}}
		ep.set("title", o.title)
		ep.set("endpointType", o.typ)
		ep.set("applicationName", app)
		if o.typ != EndpointTypeApplication {
			ep.set("contractName", c)
		}
		if o.ds != "" {
			ep.set("dataSetName", o.ds)
			ep.props = []regProperty{{name: syncRoleProp, ns: ExtNS, value: SyncRoleBoth}}
		}
		ep.set("url", o.url)
		ep.set("isBrowsable", "true")
		if d := derived(o.url); d != nil {
			for _, n := range []string{"protocol", "host", "port"} {
				ep.set(n, d[n])
			}
		}
		stable, _, err := ep.render()
		if err != nil {
			return nil, err
		}
		ep.set("aliveStamp", alive.UTC().Format(time.RFC3339Nano))
		stored, props, err := ep.render()
		if err != nil {
			return nil, err
		}
		out = append(out, store.RegistryEntry{Key: o.key, URL: o.url, ETag: store.RegistryETag(stable),
			Payload: stored, Props: props, Title: o.title, BuiltIn: true, Created: alive, Updated: alive})
	}
	return out, nil
}

// ownEndpoint returns the own entry with key.
func (s *Service) ownEndpoint(key string) (store.RegistryEntry, bool, error) {
	own, err := s.ownEndpoints(wire.NowUTC())
	if err != nil {
		return store.RegistryEntry{}, false, err
	}
	for _, e := range own {
		if e.Key == key {
			return e, true, nil
		}
	}
	return store.RegistryEntry{}, false, nil
}

// entry renders a registry entry as an Atom entry.
func (s *Service) entry(e store.RegistryEntry) (*feeds.Entry, error) {
	u := s.entryURL(e.Key)
	el, err := payload.ParseStored(e.Payload)
	if err != nil {
		return nil, err
	}
	el.CreateAttr("sdata:key", e.Key)
	el.CreateAttr("sdata:url", u)
	links := []feeds.Link{{Rel: "self", Type: wire.TypeEntry, Title: "Refresh", Href: u}}
	if !e.BuiltIn {
		links = append(links, feeds.Link{Rel: "edit", Type: wire.TypeEntry, Title: "Edit", Href: u})
	}
	content := e.Title
	if d := el.SelectElement("description"); d != nil && d.Text() != "" {
		content = d.Text()
	}
	return &feeds.Entry{ID: u, Title: e.Title, Updated: e.Updated, Content: content, Links: links, ETag: e.ETag, Payload: el}, nil
}

func (s *Service) writeEntry(w http.ResponseWriter, r *http.Request, e store.RegistryEntry, status int, location string) error {
	if r.Method == http.MethodGet && wire.NotModified(w, r, e.ETag) {
		return nil
	}
	ae, err := s.entry(e)
	if err != nil {
		return err
	}
	return wire.WriteEntry(w, status, ae, location)
}

func notFound(key string, err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) {
		return diag.New(diag.NoResource, "endpoints('%s') not found", key)
	}
	return err
}

// readOnly refuses a write of one of the provider's own entries.
func (s *Service) readOnly(key string) error {
	if _, ok, err := s.ownEndpoint(key); err != nil || !ok {
		return err
	}
	e := diag.New(diag.MethodNotAllowed,
		"endpoints('%s') is one of this provider's own endpoints and is read-only; only registered endpoints can be changed or removed", key)
	e.Allow = http.MethodGet
	return e
}

// List serves GET endpoints: own endpoints, then registered ones, filtered
// by where, ordered by orderBy and paged.
func (s *Service) List(w http.ResponseWriter, r *http.Request, t site.Target) error {
	q := r.URL.Query()
	pg, err := wire.ParsePaging(q)
	if err != nil {
		return err
	}
	lq, err := wire.ListQuery(q, pg, resolver)
	if err != nil {
		return err
	}
	now := wire.NowUTC()
	own, err := s.ownEndpoints(now)
	if err != nil {
		return err
	}
	list, total, err := s.st.RegistryList(r.Context(), own, lq)
	if err != nil {
		return err
	}
	if pg.Count == 0 {
		list = nil // count=0 asks for the totals only
	}
	self := s.url()
	head := &feeds.Feed{ID: self, Title: "Endpoints", Updated: now,
		TotalResults: total, StartIndex: pg.Start, ItemsPerPage: pg.Count, Links: pg.Links(self, q, total)}
	fw, err := wire.StreamFeed(w, head)
	if err != nil {
		return err
	}
	for _, e := range list {
		ae, err := s.entry(e)
		if err != nil {
			return err
		}
		if err := fw.WriteEntry(ae); err != nil {
			return err
		}
	}
	return fw.Close()
}

// Get serves GET endpoints('key').
func (s *Service) Get(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if own, ok, err := s.ownEndpoint(t.ID); err != nil {
		return err
	} else if ok {
		return s.writeEntry(w, r, own, http.StatusOK, "")
	}
	e, err := s.st.RegistryGet(r.Context(), t.ID)
	if err != nil {
		return notFound(t.ID, err)
	}
	return s.writeEntry(w, r, e, http.StatusOK, "")
}

// checkOwnURL refuses to register one of this provider's own URLs.
func (s *Service) checkOwnURL(u string) error {
	own, err := s.ownEndpoints(wire.NowUTC())
	if err != nil {
		return err
	}
	for _, o := range own {
		if c, err := canonicalURL(o.URL); err == nil && c == u {
			return diag.New(diag.Conflict, "%s is this provider's own endpoint endpoints('%s'); it is listed already", u, o.Key)
		}
	}
	return nil
}

// checkTitle refuses a title another endpoint has already (registered or
// this provider's own; key is the entry being changed, "" for a new one):
// clients find endpoints by title (ResolveRegistered), so a second
// "ERP production" would redirect them or break the lookup.
func (s *Service) checkTitle(ctx context.Context, title, key string) error {
	own, err := s.ownEndpoints(wire.NowUTC())
	if err != nil {
		return err
	}
	list, _, err := s.st.RegistryList(ctx, own, store.ListQuery{Where: `r.title = ?`, Args: []any{title}})
	if err != nil {
		return err
	}
	for _, e := range list {
		if e.Key != key {
			return diag.New(diag.Conflict, "an endpoint titled %q is registered already (endpoints('%s')): titles name endpoints, so they are unique", title, e.Key)
		}
	}
	return nil
}

// Register serves POST endpoints.
func (s *Service) Register(w http.ResponseWriter, r *http.Request, t site.Target) error {
	body, err := wire.ReadBody(w, r, s.maxBody)
	if err != nil {
		return err
	}
	el, _, err := wire.DecodeResource(body, s.limits)
	if err != nil {
		return err
	}
	ep, err := parseRegistryPayload(el)
	if err != nil {
		return err
	}
	if err := ep.normalize(wire.NowUTC()); err != nil {
		return err
	}
	stored, props, err := ep.render()
	if err != nil {
		return err
	}
	if err := s.checkOwnURL(ep.get("url")); err != nil {
		return err
	}
	if err := s.checkTitle(r.Context(), ep.get("title"), ""); err != nil {
		return err
	}
	e, err := s.st.RegistryCreate(r.Context(), store.RegistryWrite{URL: ep.get("url"), Payload: stored, Props: props, Title: ep.get("title")})
	if err != nil {
		return err
	}
	return s.writeEntry(w, r, e, http.StatusCreated, s.entryURL(e.Key))
}

// Update serves PUT endpoints('key'): the payload's elements replace the
// current ones; the result is validated as a whole. aliveStamp is
// refreshed unless the payload gives one; values derived from an old URL
// follow a new one.
func (s *Service) Update(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if err := s.readOnly(t.ID); err != nil {
		return err
	}
	body, err := wire.ReadBody(w, r, s.maxBody)
	if err != nil {
		return err
	}
	patch, entry, err := wire.DecodeResource(body, s.limits)
	if err != nil {
		return err
	}
	if _, err := parseRegistryPayload(patch); err != nil {
		return err
	}
	tags := wire.IfMatch(r, entry)
	e, err := s.st.RegistryUpdate(r.Context(), t.ID, func(cur store.RegistryEntry) (store.RegistryWrite, error) {
		if err := wire.MatchAll(tags, cur.ETag); err != nil {
			return store.RegistryWrite{}, err
		}
		curEl, err := payload.ParseStored(cur.Payload)
		if err != nil {
			return store.RegistryWrite{}, err
		}
		if patch.SelectElement("aliveStamp") == nil {
			for _, c := range curEl.SelectElements("aliveStamp") {
				curEl.RemoveChild(c)
			}
		}
		if pu := patch.SelectElement("url"); pu != nil {
			if nu, err := canonicalURL(pu.Text()); err == nil && nu != cur.URL {
				old := derived(cur.URL)
				for n, v := range old {
					if patch.SelectElement(n) != nil {
						continue
					}
					for _, c := range curEl.SelectElements(n) {
						if strings.TrimSpace(c.Text()) == v {
							curEl.RemoveChild(c)
						}
					}
				}
			}
		}
		ep, err := parseRegistryPayload(payload.Merge(curEl, patch))
		if err != nil {
			return store.RegistryWrite{}, err
		}
		if err := ep.normalize(wire.NowUTC()); err != nil {
			return store.RegistryWrite{}, err
		}
		stored, props, err := ep.render()
		if err != nil {
			return store.RegistryWrite{}, err
		}
		newURL := ep.get("url")
		if err := s.checkOwnURL(newURL); err != nil {
			return store.RegistryWrite{}, err
		}
		if err := s.checkTitle(r.Context(), ep.get("title"), t.ID); err != nil {
			return store.RegistryWrite{}, err
		}
		return store.RegistryWrite{URL: newURL, Payload: stored, Props: props, Title: ep.get("title")}, nil
	})
	if err != nil {
		return notFound(t.ID, err)
	}
	return s.writeEntry(w, r, e, http.StatusOK, "")
}

// Delete serves DELETE endpoints('key').
func (s *Service) Delete(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if err := s.readOnly(t.ID); err != nil {
		return err
	}
	h := r.Header.Get("If-Match")
	err := s.st.RegistryDelete(r.Context(), t.ID, func(cur store.RegistryEntry) error {
		if h != "" {
			return wire.MatchETag(h, cur.ETag)
		}
		return nil
	})
	if err != nil {
		return notFound(t.ID, err)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// Priorities returns the conflict priorities configured for registered
// endpoints (URL -> 1..9, property conflictPriority): the versions of an
// endpoint at or below such a URL compete with that priority here,
// whatever a feed claims.
func (s *Service) Priorities(ctx context.Context) (map[string]int, error) {
	list, _, err := s.st.RegistryList(ctx, nil, store.ListQuery{Where: `json_extract(r.props, '$."conflictPriority"') IS NOT NULL`})
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(list))
	for _, e := range list {
		var m map[string]any
		if json.Unmarshal(e.Props, &m) == nil {
			if n, ok := m[priorityProp].(float64); ok {
				out[e.URL] = int(n)
			}
		}
	}
	return out, nil
}

// Collection answers a registry URL that is not the endpoints collection:
// a malformed selector, or a resource kind the registry does not serve.
func (s *Service) Collection(w http.ResponseWriter, r *http.Request, t site.Target) error {
	seg := t.ID
	name := seg
	if i := strings.IndexByte(seg, '('); i >= 0 {
		if !strings.HasSuffix(seg, ")") {
			return diag.New(diag.BadURL, "malformed resource selector %q: expected endpoints('key')", seg)
		}
		if _, err := site.ParseKey(seg[i+1 : len(seg)-1]); err != nil {
			return diag.New(diag.BadURL, "malformed resource selector %q: %v", seg, err)
		}
		name = seg[:i]
	}
	return diag.New(diag.NoKind, "resource kind %q not found in the registry: it serves endpoints", name)
}

// NoService answers services under the registry: none exist.
func (s *Service) NoService(w http.ResponseWriter, r *http.Request, t site.Target) error {
	seg, op, _ := strings.Cut(t.ID, "/")
	return diag.New(diag.NoSuchURL, "the registry has no service %q on %s", op, seg)
}

// SystemNotFound answers the rest of the $system URL space.
func (s *Service) SystemNotFound(w http.ResponseWriter, r *http.Request, t site.Target) error {
	return diag.New(diag.NoSuchURL, "no system resource at %s: the registry is at %s", r.URL.Path, Path)
}
