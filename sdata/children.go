package sdata

import (
	"context"
	"net/http"
	"strings"

	"sdatasync/feeds"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/resources"
	"sdatasync/sdata/site"
	"sdatasync/sdata/wire"

	"github.com/beevik/etree"
)

// Child kinds (salesOrderLines inside salesOrders) are served as views of
// their parents: see site.ChildKinds and resources.WriteChild.

// childItem finds the item a single child URL names (child kinds are keyed
// by their UUID).
func (s *Server) childItem(ctx context.Context, sc site.Scope, cl site.ChildLink) (site.Scope, resources.ChildItem, error) {
	if !payload.ValidUUID(sc.Key) {
		return sc, resources.ChildItem{}, diag.New(diag.NoResource, "%s are keyed by their UUID; %q is none", sc.Kind.PluralName, sc.Key)
	}
	sc.Key = strings.ToLower(sc.Key)
	items, err := s.resources.ChildItems(ctx, sc, cl, sc.Key)
	if err != nil {
		return sc, resources.ChildItem{}, err
	}
	if len(items) == 0 {
		return sc, resources.ChildItem{}, diag.New(diag.NoResource, "%s('%s') not found", sc.Kind.PluralName, sc.Key)
	}
	return sc, items[0], nil
}

// getChild serves GET of one child item.
func (s *Server) getChild(w http.ResponseWriter, r *http.Request, sc site.Scope, cl site.ChildLink) error {
	sc, item, err := s.childItem(r.Context(), sc, cl)
	if err != nil {
		return err
	}
	sel, err := selectParam(r)
	if err != nil {
		return err
	}
	e, err := s.resources.ChildEntry(r.Context(), sc, cl, item, sel)
	if err != nil {
		return err
	}
	return wire.WriteEntry(w, http.StatusOK, e, "")
}

// writeOneChild serves PUT and DELETE of one child item.
func (s *Server) writeOneChild(w http.ResponseWriter, r *http.Request, sc site.Scope, cl site.ChildLink) error {
	sc, item, err := s.childItem(r.Context(), sc, cl)
	if err != nil {
		return err
	}
	return s.writeChild(w, r, sc, cl, item)
}

// writeChild serves POST, PUT and DELETE of a child: an update of its
// parent (resources.WriteChild).
func (s *Server) writeChild(w http.ResponseWriter, r *http.Request, sc site.Scope, cl site.ChildLink, cur resources.ChildItem) error {
	var el *etree.Element
	if r.Method != http.MethodDelete {
		var err error
		if el, _, err = s.readResource(w, r); err != nil {
			return err
		}
	}
	e, err := s.resources.WriteChild(r.Context(), sc, cl, cur, r.Method, el, wire.IfMatch(r, nil), auth.Name(r))
	if err != nil {
		return err
	}
	if r.Method == http.MethodDelete {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if r.Method == http.MethodPost {
		return wire.WriteEntry(w, http.StatusCreated, e, e.ID)
	}
	return wire.WriteEntry(w, http.StatusOK, e, "")
}

// listChildren serves the collection of a child kind (not queryable: query
// the parents instead).
func (s *Server) listChildren(w http.ResponseWriter, r *http.Request, sc site.Scope, cl site.ChildLink) error {
	q := r.URL.Query()
	if wire.QueryParam(q, "where") != "" || wire.QueryParam(q, "orderBy") != "" {
		return diag.New(diag.BadParameter, "%s live inside %s: query %s instead (where and orderBy are not available on the child view)",
			sc.Kind.PluralName, cl.Parent.PluralName, cl.Parent.PluralName)
	}
	pg, err := wire.ParsePaging(q)
	if err != nil {
		return err
	}
	sel, err := selectParam(r)
	if err != nil {
		return err
	}
	items, err := s.resources.ChildItems(r.Context(), sc, cl, "")
	if err != nil {
		return err
	}
	total := len(items)
	from, to := min(pg.Offset(), total), min(pg.Offset()+pg.Count, total)
	self := s.site.ScopeURL(sc)
	fw, err := wire.StreamFeed(w, &feeds.Feed{ID: self, Title: payload.Label(sc.Kind), Updated: wire.NowUTC(), TotalResults: total,
		StartIndex: pg.Start, ItemsPerPage: pg.Count, Links: pg.Links(self, q, total)})
	if err != nil {
		return err
	}
	for _, ci := range items[from:to] {
		e, err := s.resources.ChildEntry(r.Context(), sc, cl, ci, sel)
		if err != nil {
			return err
		}
		if err := fw.WriteEntry(e); err != nil {
			return err
		}
	}
	return fw.Close()
}
