// Package resources is the one path of every local read and write of a
// provider's resources, whatever the request that asks for it (a CRUD
// request, an entry of a $batch, a child item, demo data): validation
// against the contract, references resolved to UUIDs, the canonical stored
// form, If-Match, the write with its tick, the change notification (for
// immediate pushes), and reads rendered as Atom entries with their
// references resolved to local keys and URLs.
package resources

import (
	"bytes"
	"context"
	"errors"
	"slices"

	"github.com/beevik/etree"

	"sdatasync/feeds"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// Service reads and writes the resources of one provider.
type Service struct {
	Site  *site.Site
	Store store.Store
	// OnChange, when set, is called after every committed local write of a
	// kind (the immediate pusher listens here); it must not block.
	OnChange func(sc site.Scope, res store.Resource)
}

// Changed reports a committed local write to OnChange.
func (s *Service) Changed(sc site.Scope, res store.Resource) {
	if s.OnChange != nil {
		s.OnChange(sc, res)
	}
}

// NotFound maps a failed lookup of sc's resource to its 404 (other errors
// pass through).
func NotFound(sc site.Scope, err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) {
		return diag.New(diag.NoResource, "%s('%s') not found", sc.Kind.PluralName, sc.Key)
	}
	return err
}

// Get returns the live resource sc names (a tombstone is not found).
func (s *Service) Get(ctx context.Context, sc site.Scope) (store.Resource, error) {
	res, err := s.Store.Get(ctx, sc.Endpoint, sc.Key)
	if err != nil || res.Deleted {
		return res, NotFound(sc, err)
	}
	return res, nil
}

// Create is the one path of a local create: validation against the
// contract, references resolved, canonical form, the write with its tick.
func (s *Service) Create(ctx context.Context, sc site.Scope, el *etree.Element, user string) (store.Resource, error) {
	c := s.Site.Contract
	if err := payload.Validate(c, sc.Kind, el, false); err != nil {
		return store.Resource{}, err
	}
	if err := s.prepareLocal(ctx, sc, el); err != nil {
		return store.Resource{}, err
	}
	key := feeds.PayloadKey(el)
	if key != "" && !payload.ValidKey(key) {
		return store.Resource{}, payload.Errorf(sc.Kind.Name+"/@sdata:key", "invalid key %q", key)
	}
	uuid, err := payload.UUID(el)
	if err != nil {
		return store.Resource{}, err
	}
	stored, props, title, err := payload.Canonical(c, sc.Kind, el, key)
	if err != nil {
		return store.Resource{}, err
	}
	res, err := s.Store.Create(ctx, sc.Endpoint, store.Write{Key: key, UUID: uuid, Payload: stored, Props: props, Title: title, User: user})
	if err == nil {
		s.Changed(sc, res)
	}
	return res, err
}

// Update is the one path of a local update: every ifMatch value must match
// the current ETag; the patch is merged into the current payload (child
// lists by UUID) and the result validated as a whole.
func (s *Service) Update(ctx context.Context, sc site.Scope, patch *etree.Element, ifMatch []string, user string) (store.Resource, error) {
	c := s.Site.Contract
	if err := payload.Validate(c, sc.Kind, patch, true); err != nil {
		return store.Resource{}, err
	}
	uuid, err := payload.UUID(patch)
	if err != nil {
		return store.Resource{}, err
	}
	// References resolve and new child items get UUIDs before the write
	// transaction: resolving may give a referenced resource its UUID.
	if err := s.prepareLocal(ctx, sc, patch); err != nil {
		return store.Resource{}, err
	}
	res, err := s.Store.Update(ctx, sc.Endpoint, sc.Key, func(cur store.Resource) (store.Write, error) {
		if err := wire.MatchAll(ifMatch, cur.ETag); err != nil {
			return store.Write{}, err
		}
		if uuid != "" && cur.UUID != "" && uuid != cur.UUID {
			return store.Write{}, payload.Errorf(sc.Kind.Name+"/@sdata:uuid", "the resource is linked to UUID %s; relink it through $linked to change it", cur.UUID)
		}
		curEl, err := payload.ParseStored(cur.Payload)
		if err != nil {
			return store.Write{}, err
		}
		merged := payload.MergeChildren(sc.Kind, curEl, patch, false)
		if err := payload.Validate(c, sc.Kind, merged, false); err != nil {
			return store.Write{}, err
		}
		stored, props, title, err := payload.Canonical(c, sc.Kind, merged, cur.Key)
		if err != nil {
			return store.Write{}, err
		}
		return store.Write{UUID: uuid, Payload: stored, Props: props, Title: title, User: user}, nil
	})
	if err != nil {
		return res, NotFound(sc, err)
	}
	s.Changed(sc, res)
	return res, nil
}

// Delete is the one path of a local delete: the resource becomes a
// tombstone with a fresh tick.
func (s *Service) Delete(ctx context.Context, sc site.Scope, ifMatch []string, user string) (store.Resource, error) {
	res, err := s.Store.Delete(ctx, sc.Endpoint, sc.Key, user, func(cur store.Resource) error {
		return wire.MatchAll(ifMatch, cur.ETag)
	})
	if err != nil {
		return res, NotFound(sc, err)
	}
	s.Changed(sc, res)
	return res, nil
}

// CreateLocal creates a resource of kind (plural name) in dataset from a
// payload element through the same path as a POST (demo data, benchmarks).
func (s *Service) CreateLocal(ctx context.Context, dataset, kind string, el *etree.Element, user string) (store.Resource, error) {
	sc, ok := s.Site.Scope(dataset, kind)
	if !ok {
		return store.Resource{}, errors.New("sdata: no resource kind " + kind + " in dataset " + dataset)
	}
	if cl, child := s.Site.Child(kind); child {
		return store.Resource{}, errors.New("sdata: " + kind + " live inside " + cl.Parent.PluralName + ": create them through their parent")
	}
	return s.Create(ctx, sc, el, user)
}

// Entry renders a stored resource as an Atom entry with the references of
// its payload resolved to local keys and URLs; sel keeps only the named
// properties (nil: all).
func (s *Service) Entry(ctx context.Context, sc site.Scope, res store.Resource, sel []string) (*feeds.Entry, error) {
	u := s.Site.ResourceURL(sc.Dataset, sc.Kind, res.Key)
	e := &feeds.Entry{
		ID: u, Title: res.Title, Updated: res.Updated, Content: res.Title,
		Links: []feeds.Link{
			{Rel: "self", Type: wire.TypeEntry, Title: "Refresh", Href: u},
			{Rel: "edit", Type: wire.TypeEntry, Title: "Edit", Href: u},
		},
		ETag: res.ETag,
	}
	if (len(sel) == 0 || slices.Contains(sel, "*")) && !bytes.Contains(res.Payload, []byte("uuid=")) {
		// Read whole, a payload that names no other resource (nothing in it
		// carries a UUID: no reference, association or child to decorate)
		// is the stored form plus the read attributes: no tree (issue 17).
		attrs := [][2]string{{"sdata:key", res.Key}, {"sdata:url", u}}
		if res.UUID != "" {
			attrs = append(attrs, [2]string{"sdata:uuid", res.UUID})
		}
		if res.Deleted {
			attrs = append(attrs, [2]string{"sdata:isDeleted", "true"})
		}
		if raw, ok := payload.WithAttrs(res.Payload, attrs...); ok {
			e.RawPayload = raw
			return e, nil
		}
	}
	el, err := payload.WithReadAttrs(res.Payload, res.Key, u, res.UUID, res.Deleted)
	if err != nil {
		return nil, err
	}
	payload.SelectProps(el, sel)
	if err := s.Decorate(ctx, sc, el); err != nil {
		return nil, err
	}
	e.Payload = el
	return e, nil
}
