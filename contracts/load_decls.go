package contracts

import (
	"strconv"
	"strings"
)

// kind builds a resource kind from a global element.
func (l *loader) kind(d *schemaDoc, n *node) (*ResourceKind, error) {
	name, _ := n.attr("", "name")
	if name == "" {
		return nil, errAt(d, n, "resource kind element without a name")
	}
	k := &ResourceKind{Name: name, Namespace: d.tns}
	k.PluralName, _ = n.attr(NamespaceSME, "pluralName")
	if k.PluralName == "" {
		k.PluralName = name + "s"
	}
	k.Label, _ = n.attr(NamespaceSME, "label")
	flags := []struct {
		attr string
		dst  *bool
	}{
		{"canGet", &k.CanGet}, {"canPost", &k.CanPost}, {"canPut", &k.CanPut}, {"canDelete", &k.CanDelete},
		{"canPageNext", &k.CanPageNext}, {"canPagePrevious", &k.CanPagePrevious}, {"canPageIndex", &k.CanPageIndex},
		{"hasUuid", &k.HasUUID}, {"isSyncSource", &k.IsSyncSource}, {"isSyncTarget", &k.IsSyncTarget},
	}
	for _, f := range flags {
		v, err := smeBool(d, n, f.attr)
		if err != nil {
			return nil, err
		}
		*f.dst = v
	}
	var err error
	if k.SyncConflictPriority, err = smeInt(d, n, "syncConflictPriority"); err != nil {
		return nil, err
	}
	if k.SyncOrder, err = smeInt(d, n, "syncOrder"); err != nil {
		return nil, err
	}
	t, s, err := l.elementType(d, n)
	if err != nil {
		return nil, err
	}
	if t == nil || s != nil {
		return nil, errAt(d, n, "%s: a resource kind needs a complex type", describe(n))
	}
	k.Type = t
	return k, nil
}

// property builds a property from a local element declaration (or a
// reference to a global one: the name and type come from the global
// declaration, the occurrences and sme: attributes from the reference).
func (l *loader) property(d *schemaDoc, n *node) (*Property, error) {
	decl, declDoc := n, d
	name, _ := n.attr("", "name")
	if rv, ok := n.attr("", "ref"); ok && name == "" {
		q, err := resolve(d, n, rv)
		if err != nil {
			return nil, errAt(d, n, "element ref: %v", err)
		}
		g, ok := l.elems[q]
		if !ok {
			return nil, errAt(d, n, "element ref %q: unknown element", rv)
		}
		decl, declDoc, name = g.n, g.doc, q.local
	}
	if name == "" {
		return nil, errAt(d, n, "element without a name")
	}
	p := &Property{Name: name}
	var err error
	if p.MinOccurs, err = occurs(d, n, "minOccurs"); err != nil {
		return nil, err
	}
	if p.MaxOccurs, err = occurs(d, n, "maxOccurs"); err != nil {
		return nil, err
	}
	if v, ok := decl.attr("", "nillable"); ok {
		switch strings.TrimSpace(v) {
		case "true", "1":
			p.Nillable = true
		case "false", "0":
		default:
			return nil, errAt(declDoc, decl, "%s: nillable=%q is not a boolean", describe(decl), v)
		}
	}
	p.Label, _ = n.attr(NamespaceSME, "label")
	if rel, ok := n.attr(NamespaceSME, "relationship"); ok {
		switch r := Relationship(strings.TrimSpace(rel)); r {
		case RelNone, RelReference, RelChild, RelParent, RelAssociation:
			p.Relationship = r
		default:
			return nil, errAt(d, n, "%s: unknown sme:relationship %q", describe(n), rel)
		}
	}
	flags := []struct {
		attr string
		dst  *bool
	}{
		{"isCollection", &p.IsCollection}, {"isUniqueKey", &p.IsUniqueKey},
		{"isMandatory", &p.IsMandatory}, {"isReadOnly", &p.IsReadOnly},
	}
	for _, f := range flags {
		if *f.dst, err = smeBool(d, n, f.attr); err != nil {
			return nil, err
		}
	}
	t, s, err := l.elementType(declDoc, decl)
	if err != nil {
		return nil, err
	}
	if t != nil {
		p.Kind = KindComplex
		p.declType = t
		p.Complex = t
		return p, nil
	}
	p.XSDType, p.Kind, p.Enum, p.MaxLength = s.xsdType, s.kind, s.enum, s.maxLength
	if tv, ok := decl.attr("", "type"); ok {
		if q, err := resolve(declDoc, decl, tv); err == nil && q.space != NamespaceXS {
			p.simpleName = q.local
		}
	}
	return p, nil
}

// smeBool reads a boolean sme: attribute: "true"/"false", also "1"/"0".
// Case is ignored: Sage's published HRM contract writes "True".
func smeBool(d *schemaDoc, n *node, local string) (bool, error) {
	v, ok := n.attr(NamespaceSME, local)
	if !ok {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, errAt(d, n, "%s: sme:%s=%q is not a boolean (want true or false)", describe(n), local, v)
}

// smeInt reads an integer sme: attribute, 0 when absent.
func smeInt(d *schemaDoc, n *node, local string) (int, error) {
	v, ok := n.attr(NamespaceSME, local)
	if !ok {
		return 0, nil
	}
	i, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, errAt(d, n, "%s: sme:%s=%q is not an integer", describe(n), local, v)
	}
	return i, nil
}

// occurs reads minOccurs or maxOccurs (default 1, "unbounded" = -1).
func occurs(d *schemaDoc, n *node, attr string) (int, error) {
	v, ok := n.attr("", attr)
	if !ok {
		return 1, nil
	}
	v = strings.TrimSpace(v)
	if v == "unbounded" && attr == "maxOccurs" {
		return -1, nil
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return 0, errAt(d, n, "%s: %s=%q is not a valid occurrence count", describe(n), attr, v)
	}
	return i, nil
}
