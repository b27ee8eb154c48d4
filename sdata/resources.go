package sdata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/feeds"
	"sdatasync/sdata/query"
	"sdatasync/sdata/store"
)

const (
	typeFeed  = "application/atom+xml; type=feed"
	typeEntry = "application/atom+xml; type=entry"
)

// kindLevel serves /sdata/{app}/{contract}/{dataset}/{kind} and {kind}('key').
func (s *Server) kindLevel(w http.ResponseWriter, r *http.Request) error {
	if muxVar(r, "kind") == "$syncLog" {
		if err := s.checkApp(r); err != nil {
			return err
		}
		return s.syncLog(w, r, muxVar(r, "dataset"), "")
	}
	sc, err := s.resolve(r)
	if err != nil {
		return err
	}
	if cl, ok := s.children[sc.kind.PluralName]; ok {
		return s.serveChild(w, r, sc, cl)
	}
	if sc.single {
		methods := kindMethods(sc.kind, false)
		if err := allow(r, methods...); err != nil {
			return err
		}
		switch r.Method {
		case http.MethodPut:
			return s.updateResource(w, r, sc)
		case http.MethodDelete:
			return s.deleteResource(w, r, sc)
		}
		return s.getResource(w, r, sc)
	}
	if err := allow(r, kindMethods(sc.kind, true)...); err != nil {
		return err
	}
	if r.Method == http.MethodPost {
		return s.createResource(w, r, sc)
	}
	return s.listResources(w, r, sc)
}

// kindMethods lists the methods the contract allows on a kind's collection
// or on one of its resources.
func kindMethods(k *contracts.ResourceKind, collection bool) []string {
	var m []string
	if k.CanGet {
		m = append(m, http.MethodGet)
	}
	if collection {
		if k.CanPost {
			m = append(m, http.MethodPost)
		}
		return m
	}
	if k.CanPut {
		m = append(m, http.MethodPut)
	}
	if k.CanDelete {
		m = append(m, http.MethodDelete)
	}
	return m
}

// kindOp serves /sdata/{app}/{contract}/{dataset}/{kind}/{op}.
func (s *Server) kindOp(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.resolve(r)
	if err != nil {
		return err
	}
	op := muxVar(r, "op")
	if !sc.single {
		if handled, err := s.serveSync(w, r, sc, op); handled {
			return err
		}
	}
	if sc.single {
		return errorf(http.StatusNotFound, CodeBadURLSyntax, "%q is not available on a single resource", op)
	}
	if isBatchOp(op) {
		return s.batch(w, r, sc, op)
	}
	switch op {
	case "$schema":
		if err := allow(r, http.MethodGet); err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := s.cfg.Contract.WriteKindSchema(&buf, sc.kind); err != nil {
			return err
		}
		return writeBytes(w, "application/xml; charset=utf-8", http.StatusOK, buf.Bytes())
	case "$template":
		if err := allow(r, http.MethodGet); err != nil {
			return err
		}
		return s.template(w, sc)
	}
	return errorf(http.StatusNotFound, CodeBadURLSyntax, "unknown service %q on resource kind %s", op, sc.kind.PluralName)
}

func writeBytes(w http.ResponseWriter, contentType string, status int, b []byte) error {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}

// entryFor renders a stored resource as an Atom entry.
func (s *Server) entryFor(sc scope, res store.Resource, sel []string) (*feeds.Entry, error) {
	u := s.resourceURL(sc.dataset, sc.kind, res.Key)
	el, err := storedPayload(res.Payload, res.Key, u, res.UUID, res.Deleted)
	if err != nil {
		return nil, err
	}
	selectProps(el, sel)
	return &feeds.Entry{
		ID: u, Title: res.Title, Updated: res.Updated, Content: res.Title,
		Links: []feeds.Link{
			{Rel: "self", Type: typeEntry, Title: "Refresh", Href: u},
			{Rel: "edit", Type: typeEntry, Title: "Edit", Href: u},
		},
		ETag:    res.ETag,
		Payload: el,
	}, nil
}

// storedPayload parses a stored payload and adds the attributes a read
// shows: sdata:key and sdata:url (when key is set), sdata:uuid (when set) and
// sdata:isDeleted.
func storedPayload(b []byte, key, u, uuid string, deleted bool) (*etree.Element, error) {
	el, err := parseStored(b)
	if err != nil {
		return nil, err
	}
	if key != "" {
		el.CreateAttr("sdata:key", key)
		el.CreateAttr("sdata:url", u)
	}
	if uuid != "" {
		el.CreateAttr("sdata:uuid", uuid)
	}
	if deleted {
		el.CreateAttr("sdata:isDeleted", "true")
	}
	return el, nil
}

// readEntry is entryFor with the references of the payload resolved to
// local keys and URLs, for reads.
func (s *Server) readEntry(ctx context.Context, sc scope, res store.Resource, sel []string) (*feeds.Entry, error) {
	e, err := s.entryFor(sc, res, sel)
	if err != nil {
		return nil, err
	}
	if e.Payload != nil {
		if err := s.decorateRefs(ctx, sc, e.Payload); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func quoteETag(e string) string { return `"` + e + `"` }

// matchETag checks an If-Match value (a list of quoted or bare tags, or *)
// against the current ETag. Our ETags are base64, so one may itself begin
// with "W/": a tag is compared as given first, and only then as a weak tag
// (W/ and its quotes taken off).
func matchETag(h, cur string) error {
	for _, t := range strings.Split(h, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.Trim(t, `"`) == cur {
			return nil
		}
		if w, ok := strings.CutPrefix(t, "W/"); ok && strings.Trim(w, `"`) == cur {
			return nil
		}
	}
	return errorf(http.StatusPreconditionFailed, CodePreconditionFailed,
		"the resource has changed: If-Match %s does not match its current ETag \"%s\"", h, cur)
}

func (s *Server) writeEntry(w http.ResponseWriter, status int, e *feeds.Entry, location string) error {
	var buf bytes.Buffer
	if err := feeds.WriteEntry(&buf, e); err != nil {
		return err
	}
	if e.ETag != "" {
		w.Header().Set("ETag", quoteETag(e.ETag))
	}
	if location != "" {
		w.Header().Set("Location", location)
	}
	return writeBytes(w, typeEntry, status, buf.Bytes())
}

func (s *Server) getResource(w http.ResponseWriter, r *http.Request, sc scope) error {
	sel, err := selectParam(r)
	if err != nil {
		return err
	}
	res, err := s.st.Get(r.Context(), sc.ep, sc.key)
	if err != nil || res.Deleted {
		return s.notFound(sc, err)
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Trim(inm, `"`) == res.ETag {
		w.Header().Set("ETag", quoteETag(res.ETag))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	e, err := s.readEntry(r.Context(), sc, res, sel)
	if err != nil {
		return err
	}
	return s.writeEntry(w, http.StatusOK, e, "")
}

func (s *Server) notFound(sc scope, err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, CodeResourceNotFound, "%s('%s') not found", sc.kind.PluralName, sc.key)
	}
	return err
}

func user(r *http.Request) string {
	if u, _, ok := r.BasicAuth(); ok {
		return u
	}
	return ""
}

func (s *Server) createResource(w http.ResponseWriter, r *http.Request, sc scope) error {
	el, _, err := s.readResource(w, r)
	if err != nil {
		return err
	}
	res, err := s.createCore(r.Context(), sc, el, user(r))
	if err != nil {
		return err
	}
	e, err := s.readEntry(r.Context(), sc, res, nil)
	if err != nil {
		return err
	}
	return s.writeEntry(w, http.StatusCreated, e, e.ID)
}

// createCore is the one path of a local create (POST, $batch, demo data):
// validation against the contract, canonical form, the write with its tick.
func (s *Server) createCore(ctx context.Context, sc scope, el *etree.Element, usr string) (store.Resource, error) {
	if err := validate(s.cfg.Contract, sc.kind, el, false); err != nil {
		return store.Resource{}, err
	}
	if err := s.prepareLocal(ctx, sc, el); err != nil {
		return store.Resource{}, err
	}
	key := feeds.PayloadKey(el)
	if key != "" && !validKey(key) {
		return store.Resource{}, payloadError(sc.kind.Name+"/@sdata:key", "invalid key %q", key)
	}
	uuid, err := payloadUUID(el)
	if err != nil {
		return store.Resource{}, err
	}
	payload, props, title, err := canonical(s.cfg.Contract, sc.kind, el, key)
	if err != nil {
		return store.Resource{}, err
	}
	res, err := s.st.Create(ctx, sc.ep, store.Write{Key: key, UUID: uuid, Payload: payload, Props: props, Title: title, User: usr})
	if err == nil {
		s.changed(sc, res)
	}
	return res, err
}

func (s *Server) updateResource(w http.ResponseWriter, r *http.Request, sc scope) error {
	patch, entry, err := s.readResource(w, r)
	if err != nil {
		return err
	}
	var tags []string
	if h := r.Header.Get("If-Match"); h != "" {
		tags = append(tags, h)
	}
	if entry != nil && entry.IfMatch != "" {
		tags = append(tags, entry.IfMatch)
	}
	res, err := s.updateCore(r.Context(), sc, patch, tags, user(r))
	if err != nil {
		return err
	}
	e, err := s.readEntry(r.Context(), sc, res, nil)
	if err != nil {
		return err
	}
	return s.writeEntry(w, http.StatusOK, e, "")
}

// updateCore is the one path of a local update: every ifMatch value must
// match the current ETag; the patch is merged into the current payload.
func (s *Server) updateCore(ctx context.Context, sc scope, patch *etree.Element, ifMatch []string, usr string) (store.Resource, error) {
	if err := validate(s.cfg.Contract, sc.kind, patch, true); err != nil {
		return store.Resource{}, err
	}
	uuid, err := payloadUUID(patch)
	if err != nil {
		return store.Resource{}, err
	}
	// References resolve and new child items get UUIDs before the write
	// transaction: resolving may give a referenced resource its UUID.
	if err := s.prepareLocal(ctx, sc, patch); err != nil {
		return store.Resource{}, err
	}
	res, err := s.st.Update(ctx, sc.ep, sc.key, func(cur store.Resource) (store.Write, error) {
		for _, m := range ifMatch {
			if err := matchETag(m, cur.ETag); err != nil {
				return store.Write{}, err
			}
		}
		if uuid != "" && cur.UUID != "" && uuid != cur.UUID {
			return store.Write{}, payloadError(sc.kind.Name+"/@sdata:uuid", "the resource is linked to UUID %s; relink it through $linked to change it", cur.UUID)
		}
		curEl, err := parseStored(cur.Payload)
		if err != nil {
			return store.Write{}, err
		}
		merged := mergeChildren(sc.kind, curEl, patch, false)
		if err := validate(s.cfg.Contract, sc.kind, merged, false); err != nil {
			return store.Write{}, err
		}
		payload, props, title, err := canonical(s.cfg.Contract, sc.kind, merged, cur.Key)
		if err != nil {
			return store.Write{}, err
		}
		return store.Write{UUID: uuid, Payload: payload, Props: props, Title: title, User: usr}, nil
	})
	if err != nil {
		return res, s.notFound(sc, err)
	}
	s.changed(sc, res)
	return res, nil
}

func (s *Server) deleteResource(w http.ResponseWriter, r *http.Request, sc scope) error {
	var tags []string
	if h := r.Header.Get("If-Match"); h != "" {
		tags = append(tags, h)
	}
	if _, err := s.deleteCore(r.Context(), sc, tags, user(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// deleteCore is the one path of a local delete: the resource becomes a
// tombstone with a fresh tick.
func (s *Server) deleteCore(ctx context.Context, sc scope, ifMatch []string, usr string) (store.Resource, error) {
	res, err := s.st.Delete(ctx, sc.ep, sc.key, usr, func(cur store.Resource) error {
		for _, m := range ifMatch {
			if err := matchETag(m, cur.ETag); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, s.notFound(sc, err)
	}
	s.changed(sc, res)
	return res, nil
}

// template answers $template: an entry with a default payload.
func (s *Server) template(w http.ResponseWriter, sc scope) error {
	el := etree.NewElement(sc.kind.Name)
	el.CreateAttr("xmlns", s.cfg.Contract.TargetNamespace)
	for _, p := range sc.kind.Type.Properties {
		if p.Kind == contracts.KindComplex {
			continue
		}
		if v, ok := defaultValue(p); ok {
			el.CreateElement(p.Name).SetText(v)
		}
	}
	u := s.kindURL(sc.dataset, sc.kind) + "/$template"
	e := &feeds.Entry{ID: u, Title: "Template for " + sc.kind.PluralName, Payload: el,
		Links: []feeds.Link{{Rel: "self", Type: typeEntry, Href: u}}}
	return s.writeEntry(w, http.StatusOK, e, "")
}

func defaultValue(p *contracts.Property) (string, bool) {
	if len(p.Enum) > 0 {
		return p.Enum[0], true
	}
	switch p.Kind {
	case contracts.KindString:
		return "", true
	case contracts.KindBoolean:
		return "false", true
	case contracts.KindInteger, contracts.KindDecimal:
		return "0", true
	}
	return "", false
}

func selectParam(r *http.Request) ([]string, error) {
	v := queryParam(r.URL.Query(), "select")
	if v == "" {
		return nil, nil
	}
	return query.ParseSelect(v)
}

// queryParam returns a query parameter matched case-insensitively, as real
// SData engines spell parameter names loosely.
func queryParam(q url.Values, name string) string {
	if v, ok := q[name]; ok && len(v) > 0 {
		return v[0]
	}
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func hasParam(q url.Values, name string) bool {
	for k := range q {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// listResources serves a paged, filtered, ordered collection feed.
func (s *Server) listResources(w http.ResponseWriter, r *http.Request, sc scope) error {
	q := r.URL.Query()
	pg, err := parsePaging(q)
	if err != nil {
		return err
	}
	lq, err := listQuery(q, pg, s.resolver(sc.kind))
	if err != nil {
		return err
	}
	sel, err := selectParam(r)
	if err != nil {
		return err
	}
	res, total, err := s.st.List(r.Context(), sc.ep, lq)
	if err != nil {
		return err
	}
	if pg.count == 0 {
		res = nil // count=0 asks for the totals only
	}
	self := s.kindURL(sc.dataset, sc.kind)
	head := &feeds.Feed{
		ID: self, Title: labelOf(sc.kind), Updated: nowUTC(),
		TotalResults: total, StartIndex: pg.start, ItemsPerPage: pg.count,
		Links: pageLinks(self, q, pg, total),
	}
	w.Header().Set("Content-Type", typeFeed)
	fw, err := feeds.NewFeedWriter(w, head)
	if err != nil {
		return err
	}
	for _, rr := range res {
		e, err := s.readEntry(r.Context(), sc, rr, sel)
		if err != nil {
			return err
		}
		if err := fw.WriteEntry(e); err != nil {
			return err
		}
	}
	return fw.Close()
}

// listQuery builds the store query of a collection page from the where and
// orderBy parameters, compiled against resolve.
func listQuery(q url.Values, pg paging, resolve query.Resolver) (store.ListQuery, error) {
	lq := store.ListQuery{Offset: pg.start - 1, Limit: max(pg.count, 1)}
	if where := queryParam(q, "where"); where != "" {
		expr, err := query.ParseWhere(where)
		if err != nil {
			return lq, err
		}
		if lq.Where, lq.Args, err = query.CompileWhere(expr, resolve); err != nil {
			return lq, err
		}
	}
	if ob := queryParam(q, "orderBy"); ob != "" {
		terms, err := query.ParseOrderBy(ob)
		if err != nil {
			return lq, err
		}
		if lq.OrderBy, err = query.CompileOrderBy(terms, resolve); err != nil {
			return lq, err
		}
	}
	return lq, nil
}

func labelOf(k *contracts.ResourceKind) string {
	if k.Label != "" {
		return k.Label
	}
	return k.PluralName
}

// resolver maps where/orderBy property names of a kind to the JSON props.
func (s *Server) resolver(k *contracts.ResourceKind) query.Resolver {
	return func(path string) (string, query.Type, error) {
		p := k.Type.Property(path)
		if p == nil || p.Kind == contracts.KindComplex || p.MaxOccurs != 1 {
			return "", 0, fmt.Errorf("%s has no simple property %q", k.Name, path)
		}
		t := query.String
		switch p.Kind {
		case contracts.KindInteger:
			t = query.Integer
		case contracts.KindDecimal:
			t = query.Decimal
		case contracts.KindBoolean:
			t = query.Boolean
		case contracts.KindDate:
			t = query.Date
		case contracts.KindDateTime:
			t = query.DateTime
		}
		return `json_extract(r.props, '$."` + p.Name + `"')`, t, nil
	}
}

func validKey(k string) bool {
	return k != "" && len(k) <= 200 && !strings.ContainsAny(k, "/\\?#")
}

// payloadUUID returns the payload's sdata:uuid, checked and lower-cased.
func payloadUUID(el *etree.Element) (string, error) {
	u := feeds.PayloadUUID(el)
	if u == "" {
		return "", nil
	}
	if !validUUID(u) {
		return "", payloadError(el.Tag+"/@sdata:uuid", "%q is not a valid UUID", u)
	}
	return strings.ToLower(u), nil
}

func validUUID(u string) bool {
	if len(u) != 36 {
		return false
	}
	for i, c := range u {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}
