package sdata

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/gorilla/mux"

	"sdatasync/feeds"
	"sdatasync/sdata/site"
	"sdatasync/sdata/wire"
)

func muxVar(r *http.Request, name string) string { return mux.Vars(r)[name] }

func linkEntry(id, title string) *feeds.Entry {
	return &feeds.Entry{ID: id, Title: title, Content: title, Updated: wire.NowUTC(),
		Links: []feeds.Link{{Rel: "alternate", Type: wire.TypeFeed, Title: title, Href: id}}}
}

// health answers /healthz.
func (s *Server) health(w http.ResponseWriter, r *http.Request, t site.Target) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := fmt.Fprintln(w, "ok")
	return err
}

// listApps serves /sdata: the applications of this provider (one).
func (s *Server) listApps(w http.ResponseWriter, r *http.Request, t site.Target) error {
	id := s.site.Base + "/sdata"
	return wire.WriteFeed(w, &feeds.Feed{ID: id, Title: "Applications", Updated: wire.NowUTC(), TotalResults: 1, StartIndex: 1, ItemsPerPage: 1,
		Entries: []*feeds.Entry{linkEntry(s.site.Base+"/sdata/"+s.site.App, s.site.App)}})
}

// listContracts serves /sdata/{app}: the contracts of the application.
func (s *Server) listContracts(w http.ResponseWriter, r *http.Request, t site.Target) error {
	return wire.WriteFeed(w, &feeds.Feed{ID: s.site.Base + "/sdata/" + s.site.App, Title: "Contracts of " + s.site.App, Updated: wire.NowUTC(),
		TotalResults: 1, StartIndex: 1, ItemsPerPage: 1,
		Entries: []*feeds.Entry{linkEntry(s.site.ContractURL(), s.site.Contract.Name)}})
}

// listDatasets serves /sdata/{app}/{contract}: the datasets.
func (s *Server) listDatasets(w http.ResponseWriter, r *http.Request, t site.Target) error {
	ds := s.site.Datasets()
	f := &feeds.Feed{ID: s.site.ContractURL(), Title: "Datasets of " + s.site.Contract.Name, Updated: wire.NowUTC(),
		TotalResults: len(ds), StartIndex: 1, ItemsPerPage: len(ds)}
	for _, d := range ds {
		f.Entries = append(f.Entries, linkEntry(s.site.DatasetURL(d), d))
	}
	return wire.WriteFeed(w, f)
}

// contractSchema serves /sdata/{app}/{contract}/$schema: the contract as
// XSD with sme: metadata.
func (s *Server) contractSchema(w http.ResponseWriter, r *http.Request, t site.Target) error {
	var buf bytes.Buffer
	if err := s.site.Contract.WriteSchema(&buf); err != nil {
		return err
	}
	return wire.WriteBytes(w, wire.TypeXML, http.StatusOK, buf.Bytes())
}

// listKinds serves /sdata/{app}/{contract}/{dataset}: the resource kinds.
func (s *Server) listKinds(w http.ResponseWriter, r *http.Request, t site.Target) error {
	kinds := s.site.Contract.Kinds
	f := &feeds.Feed{ID: s.site.DatasetURL(t.Dataset), Title: "Resource kinds of " + s.site.Contract.Name + " / " + t.Dataset, Updated: wire.NowUTC(),
		TotalResults: len(kinds), StartIndex: 1, ItemsPerPage: len(kinds)}
	for _, k := range kinds {
		f.Entries = append(f.Entries, linkEntry(s.site.KindURL(t.Dataset, k), k.PluralName))
	}
	return wire.WriteFeed(w, f)
}

// registryUnknown hands the free segments of a registry URL that names
// nothing ({seg}, {seg}/{op}) to h as the target's ID.
func (s *Server) registryUnknown(h site.Handler) site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		t.ID = muxVar(r, "seg")
		if op := muxVar(r, "op"); op != "" {
			t.ID += "/" + op
		}
		return h(w, r, t)
	}
}
