// Package contracts models SData contracts: XSD schemas annotated with sme:
// metadata (namespace http://schemas.sage.com/sdata/sme/2007) that decide which
// resource kinds exist, what their properties are and how they synchronize.
//
// The package loads contracts from XSD files (Load, LoadFS), ships a built-in
// default contract ("gcrm", see Builtin), validates simple payload values against
// property types (Property.CheckValue) and renders contracts back as XSD for
// $schema requests (Contract.WriteSchema, Contract.WriteKindSchema). It knows
// nothing of HTTP or SQL.
package contracts

import (
	"sort"
	"sync"
)

// Well-known namespace URIs.
const (
	// NamespaceXS is the XML Schema namespace.
	NamespaceXS = "http://www.w3.org/2001/XMLSchema"
	// NamespaceSME is the SData metadata extension namespace.
	NamespaceSME = "http://schemas.sage.com/sdata/sme/2007"
)

// ValueKind classifies a simple property's values.
type ValueKind int

// The value kinds.
const (
	KindString   ValueKind = iota // string, normalizedString, token, anyURI, base64Binary, ID, language, duration...
	KindInteger                   // integer, int, long, short, byte, (non)negative/positive integer, unsigned*
	KindDecimal                   // decimal, double, float
	KindBoolean                   // boolean
	KindDate                      // xs:date
	KindDateTime                  // xs:dateTime
	KindTime                      // xs:time
	KindComplex                   // a complex-typed property (relationship or nested structure)
)

// String returns a short lower-case name of the kind, e.g. "decimal".
func (k ValueKind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindInteger:
		return "integer"
	case KindDecimal:
		return "decimal"
	case KindBoolean:
		return "boolean"
	case KindDate:
		return "date"
	case KindDateTime:
		return "dateTime"
	case KindTime:
		return "time"
	case KindComplex:
		return "complex"
	}
	return "unknown"
}

// Relationship is the value of the sme:relationship attribute of a property.
type Relationship string

// The relationships SData defines.
const (
	RelNone        Relationship = ""
	RelReference   Relationship = "reference"
	RelChild       Relationship = "child"
	RelParent      Relationship = "parent"
	RelAssociation Relationship = "association"
)

// Contract is a loaded SData contract.
type Contract struct {
	Name            string          // short name used in URLs, e.g. "gcrm"
	TargetNamespace string          // e.g. http://schemas.sage.com/crmErp/2008
	Kinds           []*ResourceKind // document order
}

// Kind returns the resource kind with the given plural name (the URL segment,
// e.g. "tradingAccounts") or, failing that, element name ("tradingAccount").
// It returns nil if there is none.
func (c *Contract) Kind(name string) *ResourceKind {
	for _, k := range c.Kinds {
		if k.PluralName == name {
			return k
		}
	}
	return c.KindByElement(name)
}

// KindByElement returns the resource kind whose global element is called elem, or nil.
func (c *Contract) KindByElement(elem string) *ResourceKind {
	for _, k := range c.Kinds {
		if k.Name == elem {
			return k
		}
	}
	return nil
}

// SyncKinds returns the kinds that are a synchronization source or target,
// sorted by SyncOrder ascending, then by name.
func (c *Contract) SyncKinds() []*ResourceKind {
	var out []*ResourceKind
	for _, k := range c.Kinds {
		if k.IsSyncSource || k.IsSyncTarget {
			out = append(out, k)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].SyncOrder != out[j].SyncOrder {
			return out[i].SyncOrder < out[j].SyncOrder
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// ResourceKind is a global element with sme:role="resourceKind".
type ResourceKind struct {
	Name, PluralName, Label string // element name ("tradingAccount"), sme:pluralName (defaults to Name+"s"), sme:label
	Namespace               string // target namespace of the element

	CanGet, CanPost, CanPut, CanDelete         bool
	CanPageNext, CanPagePrevious, CanPageIndex bool
	HasUUID, IsSyncSource, IsSyncTarget        bool

	SyncConflictPriority int // sme:syncConflictPriority, 0 when not declared
	SyncOrder            int // sme:syncOrder, 0 when not declared
	Type                 *ComplexType
}

// ComplexType is a named (or anonymous, Name "") complex type.
type ComplexType struct {
	Name       string
	Properties []*Property // document order

	compositor string // "all", "sequence" or "choice"
	compMin    int    // minOccurs of the compositor (default 1)
	compMax    int    // maxOccurs of the compositor (default 1, -1 unbounded)

	// byName indexes Properties by name, built on first use (the loader
	// appends properties until the contract is complete). Types built
	// outside the loader have none and are searched in order.
	byName *propIndex
}

// propIndex maps property names to their positions.
type propIndex struct {
	once sync.Once
	pos  map[string]int
}

func newComplexType(name string) *ComplexType {
	return &ComplexType{Name: name, byName: &propIndex{}}
}

// Index returns the position of the property called name in Properties,
// -1 if there is none.
func (t *ComplexType) Index(name string) int {
	if t == nil {
		return -1
	}
	if t.byName == nil {
		for i, p := range t.Properties {
			if p.Name == name {
				return i
			}
		}
		return -1
	}
	t.byName.once.Do(func() {
		t.byName.pos = make(map[string]int, len(t.Properties))
		for i, p := range t.Properties {
			if _, dup := t.byName.pos[p.Name]; !dup {
				t.byName.pos[p.Name] = i
			}
		}
	})
	if i, ok := t.byName.pos[name]; ok {
		return i
	}
	return -1
}

// Property returns the property called name, or nil.
func (t *ComplexType) Property(name string) *Property {
	if i := t.Index(name); i >= 0 {
		return t.Properties[i]
	}
	return nil
}

// listItem returns the single repeated complex item of a collection type, or nil
// when t is not such a type.
func (t *ComplexType) listItem() *Property {
	if t == nil || len(t.Properties) != 1 {
		return nil
	}
	p := t.Properties[0]
	if p.Kind != KindComplex || p.declType == nil {
		return nil
	}
	if p.MaxOccurs == 1 && t.compMax == 1 {
		return nil
	}
	return p
}

// Property is an element declared inside a complex type.
type Property struct {
	Name, Label  string
	XSDType      string // builtin local name after resolving named simple types, e.g. "decimal"; "" for complex
	Kind         ValueKind
	Enum         []string // allowed values (xs:enumeration), nil if unrestricted
	MaxLength    int      // xs:maxLength / xs:length, 0 if none
	Nillable     bool
	MinOccurs    int
	MaxOccurs    int // -1 = unbounded
	Relationship Relationship

	IsCollection, IsUniqueKey, IsMandatory, IsReadOnly bool

	// Complex is, for KindComplex, the type of the element or, for a collection
	// type (a "xxx--list" type holding one repeated element), the item type.
	Complex *ComplexType
	// ItemName is, for collection types, the element name of the items.
	ItemName string
	// RelatedKind is, for relationships, the resource kind whose type is Complex.
	RelatedKind *ResourceKind

	simpleName string       // local name of the named simple type, for rendering
	declType   *ComplexType // the complex type named by the element (the list type for collections)
}
