package site

import (
	"fmt"
	"net/url"
	"strings"

	"sdatasync/contracts"
)

// ParseKey reads a key selector's content: 'quoted' (” escapes a quote) or
// a bare token.
func ParseKey(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty key")
	}
	if s[0] != '\'' {
		if strings.ContainsAny(s, "'() ") {
			return "", fmt.Errorf("unquoted key %q", s)
		}
		return s, nil
	}
	if len(s) < 2 || s[len(s)-1] != '\'' {
		return "", fmt.Errorf("unterminated quoted key")
	}
	inner := s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\'' {
			if i+1 < len(inner) && inner[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return "", fmt.Errorf("stray quote in key")
		}
		b.WriteByte(inner[i])
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("empty key")
	}
	return b.String(), nil
}

// KeyFromURL extracts the key of a single-resource URL `.../kind('key')`.
func KeyFromURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	seg := u.Path[strings.LastIndexByte(u.Path, '/')+1:]
	i := strings.IndexByte(seg, '(')
	if i < 0 || !strings.HasSuffix(seg, ")") {
		return "", fmt.Errorf("%q is not a single-resource URL", raw)
	}
	return ParseKey(seg[i+1 : len(seg)-1])
}

// ChildLink says where the items of a child kind live: in the child
// collection prop of their parent kind.
type ChildLink struct {
	Parent *contracts.ResourceKind
	Prop   *contracts.Property
}

// ChildKinds finds the child kinds of a contract (plural name -> link). A
// resource kind whose resources are the items of another kind's child
// collection (salesOrderLines inside salesOrders) is served as a view of
// its parents: its resources live in their parent's payload, are keyed by
// their UUID, and every write to them is a write of the parent (same tick,
// same sync state). Such a kind does not synchronize on its own (its items
// travel inside their parents): ChildKinds clears its sync flags.
func ChildKinds(c *contracts.Contract) map[string]ChildLink {
	out := map[string]ChildLink{}
	for _, p := range c.Kinds {
		for _, prop := range p.Type.Properties {
			if prop.Relationship != contracts.RelChild || !prop.IsCollection || prop.RelatedKind == nil || prop.ItemName == "" {
				continue
			}
			k := prop.RelatedKind
			if _, seen := out[k.PluralName]; seen || k == p {
				continue
			}
			out[k.PluralName] = ChildLink{Parent: p, Prop: prop}
			k.IsSyncSource, k.IsSyncTarget = false, false
		}
	}
	return out
}
