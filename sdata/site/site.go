// Package site is the URL space of one provider: its base URL, application,
// contract and datasets, the store endpoint of every (dataset, resource kind),
// the child kinds served as views of their parents, the URL of everything it
// serves, and the Scope a request names.
package site

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"sdatasync/contracts"
	"sdatasync/sdata/store"
)

// DefaultDataset is the dataset every provider serves.
const DefaultDataset = "-"

// Site is what one provider serves and where. It is immutable once built.
type Site struct {
	Base     string // base URL without trailing slash, e.g. http://127.0.0.1:8080
	App      string
	Contract *contracts.Contract
	datasets []string
	eps      map[epKey]store.Endpoint
	children map[string]ChildLink
}

type epKey struct{ dataset, kind string }

// Scope is what a request names below a dataset: a resource kind and its
// store endpoint, and for a single resource its key.
type Scope struct {
	Dataset  string
	Kind     *contracts.ResourceKind
	Endpoint store.Endpoint
	Key      string // single-resource key, "" for the collection
	Single   bool
}

// Config says what a Site serves.
type Config struct {
	Base             string
	App              string
	Contract         *contracts.Contract
	Datasets         []string // DefaultDataset is always added
	ConflictPriority int      // of kinds whose contract declares none (1..9)
}

var segmentRE = regexp.MustCompile(`^[A-Za-z0-9_.~-]+$`)

// ValidSegment reports whether s may name a dataset (or an application).
func ValidSegment(s string) bool { return segmentRE.MatchString(s) && !strings.HasPrefix(s, "$") }

// New builds the site and makes sure every (dataset, resource kind)
// endpoint exists in the store. An endpoint keeps the URL it was created
// with; when the configured base URL no longer matches, a warning is
// logged. Child kinds (see ChildKinds) are marked as not synchronized on
// their own, in the contract itself.
func New(ctx context.Context, cfg Config, st store.Store, log *slog.Logger) (*Site, error) {
	s := &Site{Base: strings.TrimRight(cfg.Base, "/"), App: cfg.App, Contract: cfg.Contract, eps: map[epKey]store.Endpoint{}}
	s.children = ChildKinds(cfg.Contract)
	s.datasets = []string{DefaultDataset}
	for _, d := range cfg.Datasets {
		if !ValidSegment(d) {
			return nil, fmt.Errorf("sdata: invalid dataset name %q", d)
		}
		if !slices.Contains(s.datasets, d) {
			s.datasets = append(s.datasets, d)
		}
	}
	for _, ds := range s.datasets {
		for _, k := range cfg.Contract.Kinds {
			prio := k.SyncConflictPriority
			if prio == 0 {
				prio = cfg.ConflictPriority
			}
			want := s.KindURL(ds, k)
			ep, err := st.Endpoint(ctx, ds, k.PluralName, want, prio)
			if err != nil {
				return nil, err
			}
			if ep.URL != want {
				log.Warn("endpoint keeps the URL it was created with; the configured base URL differs",
					"dataset", ds, "kind", k.PluralName, "endpoint", ep.URL, "configured", want)
			}
			s.eps[epKey{ds, k.PluralName}] = ep
		}
	}
	return s, nil
}

// Datasets lists the datasets served, DefaultDataset first.
func (s *Site) Datasets() []string { return slices.Clone(s.datasets) }

// HasDataset reports whether ds is served.
func (s *Site) HasDataset(ds string) bool { return slices.Contains(s.datasets, ds) }

// Endpoint returns the store endpoint of kind (plural name) in dataset.
func (s *Site) Endpoint(dataset, kind string) (store.Endpoint, bool) {
	ep, ok := s.eps[epKey{dataset, kind}]
	return ep, ok
}

// Scope returns the collection scope of kind (plural name) in dataset.
func (s *Site) Scope(dataset, kind string) (Scope, bool) {
	k := s.Contract.Kind(kind)
	ep, ok := s.eps[epKey{dataset, kind}]
	if k == nil || !ok {
		return Scope{}, false
	}
	return Scope{Dataset: dataset, Kind: k, Endpoint: ep}, true
}

// ScopeOf returns the collection scope of the endpoint with a store id.
func (s *Site) ScopeOf(endpointID int64) (Scope, bool) {
	for k, ep := range s.eps {
		if ep.ID == endpointID {
			return Scope{Dataset: k.dataset, Kind: s.Contract.Kind(k.kind), Endpoint: ep}, true
		}
	}
	return Scope{}, false
}

// Child returns where the items of a child kind (plural name) live.
func (s *Site) Child(kind string) (ChildLink, bool) {
	cl, ok := s.children[kind]
	return cl, ok
}

// Related returns the scope of the resource kind a relationship property
// points to, in dataset.
func (s *Site) Related(dataset string, p *contracts.Property) (Scope, bool) {
	if p.RelatedKind == nil {
		return Scope{}, false
	}
	ep, ok := s.eps[epKey{dataset, p.RelatedKind.PluralName}]
	return Scope{Dataset: dataset, Kind: p.RelatedKind, Endpoint: ep}, ok
}

// AppURL is the application URL.
func (s *Site) AppURL() string { return s.Base + "/sdata/" + url.PathEscape(s.App) }

// ContractURL is the contract URL.
func (s *Site) ContractURL() string { return s.AppURL() + "/" + url.PathEscape(s.Contract.Name) }

// DatasetURL is the URL of dataset ds.
func (s *Site) DatasetURL(ds string) string { return s.ContractURL() + "/" + url.PathEscape(ds) }

// KindURL is the collection URL of kind k in dataset ds.
func (s *Site) KindURL(ds string, k *contracts.ResourceKind) string {
	return s.DatasetURL(ds) + "/" + k.PluralName
}

// ResourceURL is the URL of the resource of kind k with key in dataset ds.
func (s *Site) ResourceURL(ds string, k *contracts.ResourceKind, key string) string {
	return s.KindURL(ds, k) + "('" + url.PathEscape(strings.ReplaceAll(key, "'", "''")) + "')"
}

// ScopeURL is the collection URL of the scope's kind.
func (s *Site) ScopeURL(sc Scope) string { return s.KindURL(sc.Dataset, sc.Kind) }

// OpURL is the URL of a service op (e.g. $syncSource) of the scope's kind,
// with a selector ('id') when id is set.
func (s *Site) OpURL(sc Scope, op, id string) string {
	u := s.KindURL(sc.Dataset, sc.Kind) + "/" + op
	if id != "" {
		u += "('" + url.PathEscape(id) + "')"
	}
	return u
}

// Target is what a request's URL names, as the route table resolved it.
type Target struct {
	Scope        // the resource kind below a dataset (and the single resource), if the URL names one
	ID    string // the selector of a service or entry: $syncSource('{id}'), $linked('{uuid}'), endpoints('{key}')
}

// Handler serves one route of the route table for the target its URL names.
type Handler func(w http.ResponseWriter, r *http.Request, t Target) error

// Owns reports whether u is the URL of one of this provider's endpoints.
func (s *Site) Owns(u string) bool {
	for _, ep := range s.eps {
		if ep.URL == u {
			return true
		}
	}
	return false
}
