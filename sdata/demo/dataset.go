package demo

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/sdata/store"
)

// Provider is where demo data goes: a provider's own local write path, so
// that demo data is validated, ticked and seen by sync like any other write
// (*sdata.Server is one).
type Provider interface {
	Contract() *contracts.Contract
	// Empty reports whether nothing was ever stored in dataset.
	Empty(ctx context.Context, dataset string) (bool, error)
	CreateLocal(ctx context.Context, dataset, kind string, el *etree.Element, user string) (store.Resource, error)
}

// SeedDataset fills dataset with demo data, as user "demo", when every
// resource kind of it is empty, and reports whether it did. The contract
// must have the gcrm kinds; the data differs between datasets.
func SeedDataset(ctx context.Context, p Provider, dataset string, sz Sizes) (bool, error) {
	c := p.Contract()
	for _, k := range []string{"tradingAccounts", "contacts", "commodities", "salesOrders"} {
		if c.Kind(k) == nil {
			return false, fmt.Errorf("sdata: demo data needs resource kind %q, which contract %q lacks", k, c.Name)
		}
	}
	if empty, err := p.Empty(ctx, dataset); err != nil || !empty {
		return false, err
	}
	h := fnv.New64a()
	h.Write([]byte(dataset))
	err := Seed(ctx, c.TargetNamespace, h.Sum64(), sz, func(ctx context.Context, kind string, el *etree.Element) (string, error) {
		r, err := p.CreateLocal(ctx, dataset, kind, el, "demo")
		return r.Key, err
	})
	return err == nil, err
}
