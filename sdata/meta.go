package sdata

import (
	"bytes"
	"net/http"

	"github.com/gorilla/mux"

	"sdatasync/feeds"
)

func muxVar(r *http.Request, name string) string { return mux.Vars(r)[name] }

// writeFeed writes a small, fully built feed.
func writeFeed(w http.ResponseWriter, f *feeds.Feed) error {
	var buf bytes.Buffer
	if err := feeds.WriteFeed(&buf, f); err != nil {
		return err
	}
	return writeBytes(w, typeFeed, http.StatusOK, buf.Bytes())
}

func linkEntry(id, title string) *feeds.Entry {
	return &feeds.Entry{ID: id, Title: title, Content: title, Updated: nowUTC(),
		Links: []feeds.Link{{Rel: "alternate", Type: typeFeed, Title: title, Href: id}}}
}

// listApps serves /sdata: the applications of this provider (one).
func (s *Server) listApps(w http.ResponseWriter, r *http.Request) error {
	if err := allow(r, http.MethodGet); err != nil {
		return err
	}
	id := s.base + "/sdata"
	app := s.base + "/sdata/" + s.cfg.App
	return writeFeed(w, &feeds.Feed{ID: id, Title: "Applications", Updated: nowUTC(), TotalResults: 1, StartIndex: 1, ItemsPerPage: 1,
		Entries: []*feeds.Entry{linkEntry(app, s.cfg.App)}})
}

// listContracts serves /sdata/{app}: the contracts of the application.
func (s *Server) listContracts(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkApp(r); err != nil {
		return err
	}
	if err := allow(r, http.MethodGet); err != nil {
		return err
	}
	return writeFeed(w, &feeds.Feed{ID: s.base + "/sdata/" + s.cfg.App, Title: "Contracts of " + s.cfg.App, Updated: nowUTC(),
		TotalResults: 1, StartIndex: 1, ItemsPerPage: 1,
		Entries: []*feeds.Entry{linkEntry(s.contractURL(), s.cfg.Contract.Name)}})
}

// contractLevel serves /sdata/{app}/{contract} (the datasets) and
// /sdata/{app}/{contract}/$schema arrives at datasetLevel.
func (s *Server) contractLevel(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkApp(r); err != nil {
		return err
	}
	if err := allow(r, http.MethodGet); err != nil {
		return err
	}
	f := &feeds.Feed{ID: s.contractURL(), Title: "Datasets of " + s.cfg.Contract.Name, Updated: nowUTC(),
		TotalResults: len(s.datasets), StartIndex: 1, ItemsPerPage: len(s.datasets)}
	for _, ds := range s.datasets {
		f.Entries = append(f.Entries, linkEntry(s.datasetURL(ds), ds))
	}
	return writeFeed(w, f)
}

// datasetLevel serves /sdata/{app}/{contract}/{dataset} (the resource kinds
// as a feed) and /sdata/{app}/{contract}/$schema.
func (s *Server) datasetLevel(w http.ResponseWriter, r *http.Request) error {
	if muxVar(r, "dataset") == "$schema" {
		vars := mux.Vars(r)
		delete(vars, "dataset")
		if err := s.checkApp(r); err != nil {
			return err
		}
		if err := allow(r, http.MethodGet); err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := s.cfg.Contract.WriteSchema(&buf); err != nil {
			return err
		}
		return writeBytes(w, "application/xml; charset=utf-8", http.StatusOK, buf.Bytes())
	}
	if err := s.checkApp(r); err != nil {
		return err
	}
	if err := allow(r, http.MethodGet); err != nil {
		return err
	}
	ds := muxVar(r, "dataset")
	kinds := s.cfg.Contract.Kinds
	f := &feeds.Feed{ID: s.datasetURL(ds), Title: "Resource kinds of " + s.cfg.Contract.Name + " / " + ds, Updated: nowUTC(),
		TotalResults: len(kinds), StartIndex: 1, ItemsPerPage: len(kinds)}
	for _, k := range kinds {
		f.Entries = append(f.Entries, linkEntry(s.kindURL(ds, k), k.PluralName))
	}
	return writeFeed(w, f)
}
