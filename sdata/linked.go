package sdata

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/beevik/etree"

	"sdatasync/feeds"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// Linking (sync 6): $linked lists the resources of a kind that have a UUID
// and links one (POST); $linked('{uuid}') reads, moves (PUT) or removes
// (DELETE) one link.

// checkLinkID is the route check of $linked('{uuid}'): the selector must be
// a UUID.
func checkLinkID(r *http.Request, t site.Target) error {
	if !payload.ValidUUID(t.ID) {
		return diag.New(diag.BadURL, "%q is not a valid UUID", t.ID)
	}
	return nil
}

func linkError(sc site.Scope, id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return diag.New(diag.NoResource, "no %s is linked to UUID %s", sc.Kind.PluralName, id)
	}
	return err
}

// linkEntry renders a link: the resource element with its uuid, key and url.
func (s *Server) linkEntry(sc site.Scope, res store.Resource) *feeds.Entry {
	u := s.site.OpURL(sc, "$linked", "")
	u += "('" + res.UUID + "')"
	self := s.site.ResourceURL(sc.Dataset, sc.Kind, res.Key)
	el := etree.NewElement(sc.Kind.Name)
	el.CreateAttr("xmlns", s.site.Contract.TargetNamespace)
	el.CreateAttr("xmlns:sdata", feeds.SDataNS)
	el.CreateAttr("sdata:uuid", res.UUID)
	el.CreateAttr("sdata:key", res.Key)
	el.CreateAttr("sdata:url", self)
	return &feeds.Entry{ID: u, Title: res.Title, Content: res.Title, Updated: res.Updated, Payload: el,
		Links: []feeds.Link{{Rel: "self", Type: wire.TypeEntry, Href: u}, {Rel: "related", Type: wire.TypeEntry, Href: self}}}
}

// linkedFeed serves GET $linked: the linked resources, paged.
func (s *Server) linkedFeed(w http.ResponseWriter, r *http.Request, t site.Target) error {
	q := r.URL.Query()
	pg, err := wire.ParsePaging(q)
	if err != nil {
		return err
	}
	res, total, err := s.st.Linked(r.Context(), t.Endpoint, pg.Offset(), max(pg.Count, 1))
	if err != nil {
		return err
	}
	if pg.Count == 0 {
		res = nil
	}
	self := s.site.OpURL(t.Scope, "$linked", "")
	fw, err := wire.StreamFeed(w, &feeds.Feed{ID: self, Title: "Linked " + t.Kind.PluralName, Updated: wire.NowUTC(),
		TotalResults: total, StartIndex: pg.Start, ItemsPerPage: pg.Count, Links: pg.Links(self, q, total)})
	if err != nil {
		return err
	}
	for _, rr := range res {
		if err := fw.WriteEntry(s.linkEntry(t.Scope, rr)); err != nil {
			return err
		}
	}
	return fw.Close()
}

// linkPayload reads the resource element of a link request body.
func (s *Server) linkPayload(w http.ResponseWriter, r *http.Request, sc site.Scope) (*etree.Element, error) {
	el, _, err := s.readResource(w, r)
	if err != nil {
		return nil, err
	}
	if el.Tag != sc.Kind.Name {
		return nil, diag.Payload(el.Tag, "a %s link names a <%s> element, not <%s>", sc.Kind.PluralName, sc.Kind.Name, el.Tag)
	}
	return el, nil
}

// linkTarget returns the key of the resource a link payload names by
// sdata:key or sdata:url.
func (s *Server) linkTarget(sc site.Scope, el *etree.Element) (string, error) {
	if k := feeds.PayloadKey(el); k != "" {
		return k, nil
	}
	raw := el.SelectAttrValue("sdata:url", "")
	if raw == "" {
		return "", diag.Payload(sc.Kind.Name, "name the resource to link by sdata:key or sdata:url")
	}
	if !strings.HasPrefix(raw, s.site.ScopeURL(sc)+"(") {
		if u, err := url.Parse(raw); err != nil || !strings.HasSuffix(strings.SplitN(u.Path, "(", 2)[0], "/"+sc.Kind.PluralName) {
			return "", diag.Payload(sc.Kind.Name+"/@sdata:url", "%q is not a %s URL of this dataset", raw, sc.Kind.PluralName)
		}
	}
	k, err := site.KeyFromURL(raw)
	if err != nil {
		return "", diag.Payload(sc.Kind.Name+"/@sdata:url", "%v", err)
	}
	return k, nil
}

// link serves POST $linked: link an existing resource to a given UUID.
func (s *Server) link(w http.ResponseWriter, r *http.Request, t site.Target) error {
	el, err := s.linkPayload(w, r, t.Scope)
	if err != nil {
		return err
	}
	u := feeds.PayloadUUID(el)
	if !payload.ValidUUID(u) {
		return diag.Payload(t.Kind.Name+"/@sdata:uuid", "a link needs a valid sdata:uuid, got %q", u)
	}
	key, err := s.linkTarget(t.Scope, el)
	if err != nil {
		return err
	}
	res, err := s.st.Link(r.Context(), t.Endpoint, key, u, auth.Name(r))
	if errors.Is(err, store.ErrNotFound) {
		return diag.New(diag.NoResource, "%s('%s') not found", t.Kind.PluralName, key)
	}
	if err != nil {
		return err
	}
	s.resources.Changed(t.Scope, res)
	e := s.linkEntry(t.Scope, res)
	return wire.WriteEntry(w, http.StatusCreated, e, e.ID)
}

// getLink serves GET $linked('{uuid}').
func (s *Server) getLink(w http.ResponseWriter, r *http.Request, t site.Target) error {
	id := strings.ToLower(t.ID)
	res, err := s.st.GetByUUID(r.Context(), t.Endpoint, id)
	if err != nil || res.Deleted || res.UUID != id {
		return linkError(t.Scope, id, store.ErrNotFound)
	}
	return wire.WriteEntry(w, http.StatusOK, s.linkEntry(t.Scope, res), "")
}

// relink serves PUT $linked('{uuid}'): the UUID moves to the resource the
// payload names.
func (s *Server) relink(w http.ResponseWriter, r *http.Request, t site.Target) error {
	id := strings.ToLower(t.ID)
	el, err := s.linkPayload(w, r, t.Scope)
	if err != nil {
		return err
	}
	key, err := s.linkTarget(t.Scope, el)
	if err != nil {
		return err
	}
	if u := feeds.PayloadUUID(el); u != "" && !strings.EqualFold(u, id) {
		return diag.Payload(t.Kind.Name+"/@sdata:uuid", "the payload names UUID %s, the URL %s", u, id)
	}
	res, err := s.st.Relink(r.Context(), t.Endpoint, id, key, auth.Name(r))
	if err != nil {
		return linkError(t.Scope, id, err)
	}
	s.resources.Changed(t.Scope, res)
	return wire.WriteEntry(w, http.StatusOK, s.linkEntry(t.Scope, res), "")
}

// unlink serves DELETE $linked('{uuid}').
func (s *Server) unlink(w http.ResponseWriter, r *http.Request, t site.Target) error {
	id := strings.ToLower(t.ID)
	if err := s.st.Unlink(r.Context(), t.Endpoint, id); err != nil {
		return linkError(t.Scope, id, err)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
