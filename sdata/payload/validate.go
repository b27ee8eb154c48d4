// Package payload is the pure logic of resource payloads: validation against
// the contract, the canonical stored form and its JSON query properties,
// partial updates, child collections merged by UUID, references and the
// attributes reads and sync feeds add. It does no I/O and knows nothing of
// HTTP or SQL; a payload that does not match the contract is an *Error.
package payload

import (
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/feeds"
)

// Error says why a payload does not match the contract, and where (a path
// of element names from the resource element, e.g.
// tradingAccount/financeLimit).
type Error struct {
	Path, Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error at path.
func Errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Message: fmt.Sprintf(format, args...)}
}

// Validate checks a payload element against the kind's type. partial allows
// missing required properties (a PUT that names only what it changes).
func Validate(c *contracts.Contract, k *contracts.ResourceKind, el *etree.Element, partial bool) error {
	if el.Tag != k.Name || el.Space != "" {
		return Errorf(el.Tag, "the payload element is %q; a %s resource must be a <%s> element", el.FullTag(), k.PluralName, k.Name)
	}
	if ns := el.SelectAttrValue("xmlns", ""); !readsAs(ns, c.TargetNamespace) {
		return Errorf(k.Name, "the payload namespace %q is not the contract's (%s)", ns, c.TargetNamespace)
	}
	return validateType(k.Type, el, k.Name, partial)
}

// sageNS is the prefix of Sage's namespaces; sageProtocolNS the prefix of
// those of the SData protocol itself (sdata, sync, http), which never name
// a payload.
const (
	sageNS         = "http://schemas.sage.com/"
	sageProtocolNS = "http://schemas.sage.com/sdata/"
)

// readsAs reports whether a payload whose root element is in namespace ns
// is read as a payload of the contract (namespace contractNS): its own, and
// any other SData payload namespace of Sage's (the JavaScript client writes
// every entry in SalesLogix's http://schemas.sage.com/dynamic/2007). The
// element names must still be the kind's and its properties'; what is
// stored is in the contract's namespace.
func readsAs(ns, contractNS string) bool {
	return ns == "" || ns == contractNS || strings.HasPrefix(ns, sageNS) && !strings.HasPrefix(ns, sageProtocolNS)
}

func validateType(t *contracts.ComplexType, el *etree.Element, path string, partial bool) error {
	if t == nil {
		return nil
	}
	seen := map[string]int{}
	for _, c := range el.ChildElements() {
		cpath := path + "/" + c.FullTag()
		p := t.Property(c.Tag)
		if c.Space != "" || p == nil {
			return Errorf(cpath, "%s has no property %q", t.Name, c.FullTag())
		}
		seen[c.Tag]++
		if p.MaxOccurs == 1 && seen[c.Tag] > 1 {
			return Errorf(cpath, "property %q appears more than once", c.Tag)
		}
		if err := validateProperty(p, c, cpath, partial); err != nil {
			return err
		}
	}
	if !partial {
		for _, p := range t.Properties {
			if p.MinOccurs > 0 && !p.Nillable && seen[p.Name] == 0 && p.Relationship == contracts.RelNone {
				return Errorf(path+"/"+p.Name, "required property %q is missing", p.Name)
			}
		}
	}
	return nil
}

func validateProperty(p *contracts.Property, c *etree.Element, path string, partial bool) error {
	if feeds.IsNil(c) {
		if !p.Nillable {
			return Errorf(path, "property %q is not nillable", p.Name)
		}
		return nil
	}
	if p.Kind != contracts.KindComplex {
		if len(c.ChildElements()) > 0 {
			return Errorf(path, "property %q takes a simple value, not elements", p.Name)
		}
		v := c.Text()
		if len(v) > MaxValue {
			return Errorf(path, "property %q holds %d bytes; a value holds at most %d", p.Name, len(v), MaxValue)
		}
		if p.Kind != contracts.KindString {
			v = strings.TrimSpace(v)
		}
		if err := p.CheckValue(v); err != nil {
			return Errorf(path, "property %q: %v", p.Name, err)
		}
		return nil
	}
	if p.IsCollection && p.ItemName != "" {
		for i, item := range c.ChildElements() {
			ipath := fmt.Sprintf("%s/%s[%d]", path, item.FullTag(), i+1)
			if item.Space != "" || item.Tag != p.ItemName {
				return Errorf(ipath, "collection %q holds <%s> elements, not %q", p.Name, p.ItemName, item.FullTag())
			}
			// Items of a child collection are complete resources of their
			// own; references and associations may carry only a key.
			itemPartial := partial || p.Relationship != contracts.RelChild
			if err := validateType(p.Complex, item, ipath, itemPartial); err != nil {
				return err
			}
		}
		return nil
	}
	// A single reference, parent or nested structure: its sub-elements must be
	// properties of its type, none of them required.
	return validateType(p.Complex, c, path, p.Relationship != contracts.RelNone || partial)
}

// MaxValue is the most bytes of one simple property value.
const MaxValue = 1 << 20

// ValidUUID reports whether u has the textual form of a UUID.
func ValidUUID(u string) bool {
	if len(u) != 36 {
		return false
	}
	for i, c := range u {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

// UUID returns the payload's sdata:uuid, checked and lower-cased ("" when
// it has none).
func UUID(el *etree.Element) (string, error) {
	u := feeds.PayloadUUID(el)
	if u == "" {
		return "", nil
	}
	if !ValidUUID(u) {
		return "", Errorf(el.Tag+"/@sdata:uuid", "%q is not a valid UUID", u)
	}
	return strings.ToLower(u), nil
}

// ValidKey reports whether k may be a client-chosen resource key.
func ValidKey(k string) bool {
	return k != "" && len(k) <= 200 && !strings.ContainsAny(k, "/\\?#")
}

// Label is the kind's label, or its plural name when it has none.
func Label(k *contracts.ResourceKind) string {
	if k.Label != "" {
		return k.Label
	}
	return k.PluralName
}

// DefaultValue is the value a $template gives a simple property, if any.
func DefaultValue(p *contracts.Property) (string, bool) {
	if len(p.Enum) > 0 {
		return p.Enum[0], true
	}
	switch p.Kind {
	case contracts.KindString:
		return "", true
	case contracts.KindBoolean:
		return "false", true
	case contracts.KindInteger, contracts.KindDecimal:
		return "0", true
	}
	return "", false
}
