package sdata

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/beevik/etree"

	"sdatasync/feeds"
	"sdatasync/sdata/store"
)

// linked serves $linked (GET feed, POST link) and $linked('{uuid}') (GET,
// PUT reassign, DELETE unlink) of a kind.
func (s *Server) linked(w http.ResponseWriter, r *http.Request, sc scope, id string) error {
	if id == "" {
		if err := allow(r, http.MethodGet, http.MethodPost); err != nil {
			return err
		}
		if r.Method == http.MethodPost {
			return s.link(w, r, sc)
		}
		return s.linkedFeed(w, r, sc)
	}
	if !validUUID(id) {
		return errorf(http.StatusBadRequest, CodeBadURLSyntax, "%q is not a valid UUID", id)
	}
	id = strings.ToLower(id)
	if err := allow(r, http.MethodGet, http.MethodPut, http.MethodDelete); err != nil {
		return err
	}
	switch r.Method {
	case http.MethodPut:
		body, err := s.readBody(w, r)
		if err != nil {
			return err
		}
		el, err := s.linkPayload(sc, body)
		if err != nil {
			return err
		}
		key, err := s.linkTarget(sc, el)
		if err != nil {
			return err
		}
		if u := feeds.PayloadUUID(el); u != "" && !strings.EqualFold(u, id) {
			return payloadError(sc.kind.Name+"/@sdata:uuid", "the payload names UUID %s, the URL %s", u, id)
		}
		res, err := s.st.Relink(r.Context(), sc.ep, id, key, user(r))
		if err != nil {
			return s.linkError(sc, id, err)
		}
		s.changed(sc, res)
		return s.writeEntry(w, http.StatusOK, s.linkEntry(sc, res), "")
	case http.MethodDelete:
		if err := s.st.Unlink(r.Context(), sc.ep, id); err != nil {
			return s.linkError(sc, id, err)
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	res, err := s.st.GetByUUID(r.Context(), sc.ep, id)
	if err != nil || res.Deleted || res.UUID != id {
		return s.linkError(sc, id, store.ErrNotFound)
	}
	return s.writeEntry(w, http.StatusOK, s.linkEntry(sc, res), "")
}

func (s *Server) linkError(sc scope, id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, CodeResourceNotFound, "no %s is linked to UUID %s", sc.kind.PluralName, id)
	}
	return err
}

// linkURL is the URL of one link.
func (s *Server) linkURL(sc scope, u string) string {
	return s.kindURL(sc.dataset, sc.kind) + "/$linked('" + u + "')"
}

// linkEntry renders a link: the resource element with its uuid, key and url.
func (s *Server) linkEntry(sc scope, res store.Resource) *feeds.Entry {
	u := s.linkURL(sc, res.UUID)
	el := etree.NewElement(sc.kind.Name)
	el.CreateAttr("xmlns", s.cfg.Contract.TargetNamespace)
	el.CreateAttr("xmlns:sdata", feeds.SDataNS)
	el.CreateAttr("sdata:uuid", res.UUID)
	el.CreateAttr("sdata:key", res.Key)
	el.CreateAttr("sdata:url", s.resourceURL(sc.dataset, sc.kind, res.Key))
	return &feeds.Entry{ID: u, Title: res.Title, Content: res.Title, Updated: res.Updated, Payload: el,
		Links: []feeds.Link{{Rel: "self", Type: typeEntry, Href: u}, {Rel: "related", Type: typeEntry, Href: s.resourceURL(sc.dataset, sc.kind, res.Key)}}}
}

func (s *Server) linkedFeed(w http.ResponseWriter, r *http.Request, sc scope) error {
	q := r.URL.Query()
	pg, err := parsePaging(q)
	if err != nil {
		return err
	}
	res, total, err := s.st.Linked(r.Context(), sc.ep, pg.start-1, max(pg.count, 1))
	if err != nil {
		return err
	}
	if pg.count == 0 {
		res = nil
	}
	self := s.kindURL(sc.dataset, sc.kind) + "/$linked"
	w.Header().Set("Content-Type", typeFeed)
	fw, err := feeds.NewFeedWriter(w, &feeds.Feed{ID: self, Title: "Linked " + sc.kind.PluralName, Updated: nowUTC(),
		TotalResults: total, StartIndex: pg.start, ItemsPerPage: pg.count, Links: pageLinks(self, q, pg, total)})
	if err != nil {
		return err
	}
	for _, rr := range res {
		if err := fw.WriteEntry(s.linkEntry(sc, rr)); err != nil {
			return err
		}
	}
	return fw.Close()
}

// linkPayload reads the resource element of a link request body.
func (s *Server) linkPayload(sc scope, body []byte) (*etree.Element, error) {
	el, _, err := s.decodeResource(body)
	if err != nil {
		return nil, err
	}
	if el.Tag != sc.kind.Name {
		return nil, payloadError(el.Tag, "a %s link names a <%s> element, not <%s>", sc.kind.PluralName, sc.kind.Name, el.Tag)
	}
	return el, nil
}

// linkTarget returns the key of the resource a link payload names by
// sdata:key or sdata:url.
func (s *Server) linkTarget(sc scope, el *etree.Element) (string, error) {
	if k := feeds.PayloadKey(el); k != "" {
		return k, nil
	}
	raw := el.SelectAttrValue("sdata:url", "")
	if raw == "" {
		return "", payloadError(sc.kind.Name, "name the resource to link by sdata:key or sdata:url")
	}
	if !strings.HasPrefix(raw, s.kindURL(sc.dataset, sc.kind)+"(") {
		if u, err := url.Parse(raw); err != nil || !strings.HasSuffix(strings.SplitN(u.Path, "(", 2)[0], "/"+sc.kind.PluralName) {
			return "", payloadError(sc.kind.Name+"/@sdata:url", "%q is not a %s URL of this dataset", raw, sc.kind.PluralName)
		}
	}
	k, err := keyFromURL(raw)
	if err != nil {
		return "", payloadError(sc.kind.Name+"/@sdata:url", "%v", err)
	}
	return k, nil
}

// link serves POST $linked: link an existing resource to a given UUID.
func (s *Server) link(w http.ResponseWriter, r *http.Request, sc scope) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	el, err := s.linkPayload(sc, body)
	if err != nil {
		return err
	}
	u := feeds.PayloadUUID(el)
	if !validUUID(u) {
		return payloadError(sc.kind.Name+"/@sdata:uuid", "a link needs a valid sdata:uuid, got %q", u)
	}
	key, err := s.linkTarget(sc, el)
	if err != nil {
		return err
	}
	res, err := s.st.Link(r.Context(), sc.ep, key, u, user(r))
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, CodeResourceNotFound, "%s('%s') not found", sc.kind.PluralName, key)
	}
	if err != nil {
		return err
	}
	s.changed(sc, res)
	e := s.linkEntry(sc, res)
	var buf bytes.Buffer
	if err := feeds.WriteEntry(&buf, e); err != nil {
		return err
	}
	w.Header().Set("Location", e.ID)
	return writeBytes(w, typeEntry, http.StatusCreated, buf.Bytes())
}
