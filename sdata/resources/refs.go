package resources

import (
	"context"
	"net/url"
	"strings"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/feeds"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
)

// prepareLocal readies a payload of a local write: references resolved to
// UUIDs, child items given UUIDs.
func (s *Service) prepareLocal(ctx context.Context, sc site.Scope, el *etree.Element) error {
	return payload.WalkRelations(sc.Kind.Type, el, sc.Kind.Name, func(p *contracts.Property, c *etree.Element, path string) error {
		return s.resolveRef(ctx, sc.Dataset, p, c, path)
	}, func(p *contracts.Property, c *etree.Element, path string) error {
		for _, item := range c.SelectElements(p.ItemName) {
			if u := feeds.PayloadUUID(item); u == "" {
				item.CreateAttr("sdata:uuid", store.NewUUID())
			} else if !payload.ValidUUID(u) {
				return payload.Errorf(path+"/"+p.ItemName+"/@sdata:uuid", "%q is not a valid UUID", u)
			}
		}
		return nil
	})
}

// resolveRef turns a reference naming its resource by uuid, key or url into
// the stored form: an empty element with sdata:uuid.
func (s *Service) resolveRef(ctx context.Context, dataset string, p *contracts.Property, c *etree.Element, path string) error {
	u := feeds.PayloadUUID(c)
	if u != "" && !payload.ValidUUID(u) {
		return payload.Errorf(path+"/@sdata:uuid", "%q is not a valid UUID", u)
	}
	if u == "" {
		key := feeds.PayloadKey(c)
		if key == "" {
			if raw := c.SelectAttrValue("sdata:url", ""); raw != "" {
				k, err := site.KeyFromURL(raw)
				if err != nil {
					return payload.Errorf(path+"/@sdata:url", "%v", err)
				}
				key = k
			}
		}
		if key == "" {
			return payload.Errorf(path, "reference %q must name its resource by sdata:uuid, sdata:key or sdata:url", p.Name)
		}
		rs, ok := s.Site.Related(dataset, p)
		if !ok {
			return payload.Errorf(path, "reference %q: no resource kind to resolve it in", p.Name)
		}
		res, err := s.Store.Get(ctx, rs.Endpoint, key)
		if err != nil || res.Deleted {
			return payload.Errorf(path+"/@sdata:key", "reference %q: no %s with key %q", p.Name, rs.Kind.PluralName, key)
		}
		u = res.UUID
		if u == "" {
			ids, err := s.Store.AssignUUIDs(ctx, rs.Endpoint, []string{key})
			if err != nil {
				return err
			}
			u = ids[key]
		}
	}
	payload.CanonicalRef(c, strings.ToLower(u))
	return nil
}

// Decorate adds to a payload being read what reads show: sdata:key and
// sdata:url on its references, where their UUID names a resource here, and
// on its child items (keyed by their UUID, at the URL of their child kind),
// so that clients can address every item.
func (s *Service) Decorate(ctx context.Context, sc site.Scope, el *etree.Element) error {
	return payload.WalkRelations(sc.Kind.Type, el, sc.Kind.Name, func(p *contracts.Property, c *etree.Element, path string) error {
		u := feeds.PayloadUUID(c)
		rs, ok := s.Site.Related(sc.Dataset, p)
		if u == "" || !ok {
			return nil
		}
		keys, err := s.Store.KeysByUUID(ctx, rs.Endpoint, []string{u})
		if err != nil {
			return err
		}
		if key, ok := keys[strings.ToLower(u)]; ok {
			c.CreateAttr("sdata:key", key)
			c.CreateAttr("sdata:url", s.Site.ResourceURL(sc.Dataset, rs.Kind, key))
		}
		return nil
	}, func(p *contracts.Property, c *etree.Element, path string) error {
		if p.RelatedKind == nil {
			return nil
		}
		for _, item := range c.SelectElements(p.ItemName) {
			if u := feeds.PayloadUUID(item); u != "" {
				item.CreateAttr("sdata:key", u)
				item.CreateAttr("sdata:url", s.Site.ResourceURL(sc.Dataset, p.RelatedKind, u))
			}
		}
		return nil
	})
}

// RefKey returns the local key of the resource of target a reference
// element names (by sdata:key, sdata:url or sdata:uuid).
func (s *Service) RefKey(ctx context.Context, target site.Scope, ref *etree.Element) (string, error) {
	if k := feeds.PayloadKey(ref); k != "" {
		return k, nil
	}
	if raw := ref.SelectAttrValue("sdata:url", ""); raw != "" {
		if _, err := url.Parse(raw); err == nil {
			k, err := site.KeyFromURL(raw)
			if err != nil {
				return "", diag.New(diag.BadURL, "%v", err)
			}
			return k, nil
		}
	}
	if u := feeds.PayloadUUID(ref); u != "" {
		keys, err := s.Store.KeysByUUID(ctx, target.Endpoint, []string{u})
		if err != nil {
			return "", err
		}
		if k, ok := keys[strings.ToLower(u)]; ok {
			return k, nil
		}
		return "", diag.New(diag.NoResource, "no %s with UUID %s", target.Kind.Name, u)
	}
	return "", diag.New(diag.BadRequest, "the reference names no resource")
}
