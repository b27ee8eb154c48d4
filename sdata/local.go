package sdata

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/beevik/etree"

	"sdatasync/sdata/demo"
	"sdatasync/sdata/store"
)

// CreateLocal creates a resource of kind (plural name) in dataset from a
// payload element through the same validation and write path as a POST.
func (s *Server) CreateLocal(ctx context.Context, dataset, kind string, el *etree.Element, user string) (store.Resource, error) {
	k := s.cfg.Contract.Kind(kind)
	ep, ok := s.eps[epKey{dataset, kind}]
	if k == nil || !ok {
		return store.Resource{}, fmt.Errorf("sdata: no resource kind %q in dataset %q", kind, dataset)
	}
	if cl, child := s.children[kind]; child {
		return store.Resource{}, fmt.Errorf("sdata: %s live inside %s: create them through their parent", kind, cl.parent.PluralName)
	}
	return s.createCore(ctx, scope{dataset: dataset, kind: k, ep: ep}, el, user)
}

// changed is called after every committed local write of a kind; it
// schedules the immediate push of the change, if any is configured.
func (s *Server) changed(sc scope, res store.Resource) {
	if s.push != nil {
		s.push.notify(sc, res)
	}
}

// SeedDemo fills dataset with demo data when every resource kind of it is
// empty, and reports whether it did. It needs a contract with the gcrm kinds.
func (s *Server) SeedDemo(ctx context.Context, dataset string, sz demo.Sizes) (bool, error) {
	for _, k := range []string{"tradingAccounts", "contacts", "commodities", "salesOrders"} {
		if s.cfg.Contract.Kind(k) == nil {
			return false, fmt.Errorf("sdata: demo data needs resource kind %q, which contract %q lacks", k, s.cfg.Contract.Name)
		}
	}
	for _, k := range s.cfg.Contract.Kinds {
		_, n, err := s.st.List(ctx, s.eps[epKey{dataset, k.PluralName}], store.ListQuery{Limit: 1, IncludeDeleted: true})
		if err != nil {
			return false, err
		}
		if n > 0 {
			return false, nil
		}
	}
	h := fnv.New64a()
	h.Write([]byte(dataset))
	err := demo.Seed(ctx, s.cfg.Contract.TargetNamespace, h.Sum64(), sz, func(ctx context.Context, kind string, el *etree.Element) (string, error) {
		r, err := s.CreateLocal(ctx, dataset, kind, el, "demo")
		return r.Key, err
	})
	return err == nil, err
}
