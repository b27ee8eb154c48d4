package sdata

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/feeds"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/query"
	"sdatasync/sdata/resources"
	"sdatasync/sdata/site"
	"sdatasync/sdata/wire"
)

// readResource reads a request body holding a resource payload (a bare
// element or an atom:entry; the entry is nil for a bare payload).
func (s *Server) readResource(w http.ResponseWriter, r *http.Request) (*etree.Element, *feeds.Entry, error) {
	body, err := wire.ReadBody(w, r, s.cfg.MaxBody)
	if err != nil {
		return nil, nil, err
	}
	return wire.DecodeResource(body, s.limits)
}

// list serves GET {kind}: a paged, filtered, ordered collection feed.
func (s *Server) list(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if cl, ok := s.site.Child(t.Kind.PluralName); ok {
		return s.listChildren(w, r, t.Scope, cl)
	}
	q := r.URL.Query()
	pg, err := wire.ParsePaging(q)
	if err != nil {
		return err
	}
	lq, err := wire.ListQuery(q, pg, s.resolver(t.Kind))
	if err != nil {
		return err
	}
	sel, err := selectParam(r)
	if err != nil {
		return err
	}
	res, total, err := s.st.List(r.Context(), t.Endpoint, lq)
	if err != nil {
		return err
	}
	if pg.Count == 0 {
		res = nil // count=0 asks for the totals only
	}
	self := s.site.ScopeURL(t.Scope)
	head := &feeds.Feed{
		ID: self, Title: payload.Label(t.Kind), Updated: wire.NowUTC(),
		TotalResults: total, StartIndex: pg.Start, ItemsPerPage: pg.Count,
		Links: pg.Links(self, q, total),
	}
	fw, err := wire.StreamFeed(w, head)
	if err != nil {
		return err
	}
	for _, rr := range res {
		e, err := s.resources.Entry(r.Context(), t.Scope, rr, sel)
		if err != nil {
			return err
		}
		if err := fw.WriteEntry(e); err != nil {
			return err
		}
	}
	return fw.Close()
}

// get serves GET {kind}('key') (304 when If-None-Match names its ETag).
func (s *Server) get(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if cl, ok := s.site.Child(t.Kind.PluralName); ok {
		return s.getChild(w, r, t.Scope, cl)
	}
	sel, err := selectParam(r)
	if err != nil {
		return err
	}
	res, err := s.resources.Get(r.Context(), t.Scope)
	if err != nil {
		return err
	}
	if wire.NotModified(w, r, res.ETag) {
		return nil
	}
	e, err := s.resources.Entry(r.Context(), t.Scope, res, sel)
	if err != nil {
		return err
	}
	return wire.WriteEntry(w, http.StatusOK, e, "")
}

// create serves POST {kind}: 201 with Location and ETag.
func (s *Server) create(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if cl, ok := s.site.Child(t.Kind.PluralName); ok {
		return s.writeChild(w, r, t.Scope, cl, resources.ChildItem{})
	}
	el, _, err := s.readResource(w, r)
	if err != nil {
		return err
	}
	res, err := s.resources.Create(r.Context(), t.Scope, el, auth.Name(r))
	if err != nil {
		return err
	}
	e, err := s.resources.Entry(r.Context(), t.Scope, res, nil)
	if err != nil {
		return err
	}
	return wire.WriteEntry(w, http.StatusCreated, e, e.ID)
}

// update serves PUT {kind}('key'): a partial payload changes only what it
// names; a stale If-Match is 412.
func (s *Server) update(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if cl, ok := s.site.Child(t.Kind.PluralName); ok {
		return s.writeOneChild(w, r, t.Scope, cl)
	}
	patch, entry, err := s.readResource(w, r)
	if err != nil {
		return err
	}
	res, err := s.resources.Update(r.Context(), t.Scope, patch, wire.IfMatch(r, entry), auth.Name(r))
	if err != nil {
		return err
	}
	e, err := s.resources.Entry(r.Context(), t.Scope, res, nil)
	if err != nil {
		return err
	}
	return wire.WriteEntry(w, http.StatusOK, e, "")
}

// delete serves DELETE {kind}('key'): the resource becomes a tombstone.
func (s *Server) delete(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if cl, ok := s.site.Child(t.Kind.PluralName); ok {
		return s.writeOneChild(w, r, t.Scope, cl)
	}
	if _, err := s.resources.Delete(r.Context(), t.Scope, wire.IfMatch(r, nil), auth.Name(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// kindSchema serves {kind}/$schema: the kind's XSD with sme: metadata.
func (s *Server) kindSchema(w http.ResponseWriter, r *http.Request, t site.Target) error {
	var buf bytes.Buffer
	if err := s.site.Contract.WriteKindSchema(&buf, t.Kind); err != nil {
		return err
	}
	return wire.WriteBytes(w, wire.TypeXML, http.StatusOK, buf.Bytes())
}

// template serves {kind}/$template: an entry with a default payload.
func (s *Server) template(w http.ResponseWriter, r *http.Request, t site.Target) error {
	el := etree.NewElement(t.Kind.Name)
	el.CreateAttr("xmlns", s.site.Contract.TargetNamespace)
	for _, p := range t.Kind.Type.Properties {
		if p.Kind == contracts.KindComplex {
			continue
		}
		if v, ok := payload.DefaultValue(p); ok {
			el.CreateElement(p.Name).SetText(v)
		}
	}
	u := s.site.ScopeURL(t.Scope) + "/$template"
	e := &feeds.Entry{ID: u, Title: "Template for " + t.Kind.PluralName, Payload: el,
		Links: []feeds.Link{{Rel: "self", Type: wire.TypeEntry, Href: u}}}
	return wire.WriteEntry(w, http.StatusOK, e, "")
}

// unknownService answers {kind}/{op} for an op the provider does not have
// (a malformed selector is a 400).
func (s *Server) unknownService(w http.ResponseWriter, r *http.Request, t site.Target) error {
	op := muxVar(r, "op")
	if i := strings.IndexByte(op, '('); i >= 0 {
		if !strings.HasSuffix(op, ")") {
			return diag.New(diag.BadURL, "malformed selector %q", op)
		}
		if _, err := site.ParseKey(op[i+1 : len(op)-1]); err != nil {
			return diag.New(diag.BadURL, "malformed selector %q: %v", op, err)
		}
	}
	return diag.New(diag.NoSuchURL, "unknown service %q on resource kind %s", op, t.Kind.PluralName)
}

func selectParam(r *http.Request) ([]string, error) {
	v := wire.QueryParam(r.URL.Query(), "select")
	if v == "" {
		return nil, nil
	}
	return query.ParseSelect(v)
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
