package contracts

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// WriteSchema writes the whole contract as one XSD document: an xs:schema with
// the contract's targetNamespace, elementFormDefault="qualified" and xmlns:sme,
// every resource kind as a global xs:element with its sme: attributes, and
// every type the kinds reach. Types from imported namespaces are rendered in
// the contract's namespace (one document holds one namespace).
func (c *Contract) WriteSchema(w io.Writer) error {
	return c.writeSchema(w, c.Kinds)
}

// WriteKindSchema writes the schema of one resource kind: its global element
// and the types it reaches only.
func (c *Contract) WriteKindSchema(w io.Writer, k *ResourceKind) error {
	if k == nil {
		return fmt.Errorf("contract %s: no resource kind to render", c.Name)
	}
	return c.writeSchema(w, []*ResourceKind{k})
}

// schemaWriter renders XSD into a buffer.
type schemaWriter struct {
	buf        bytes.Buffer
	typeNames  map[*ComplexType]string // unique rendered names of named complex types
	simpleDefs map[string]*Property    // named simple types to render, by name
	simpleBad  map[string]bool         // simple type names rendered inline (conflicting definitions)
}

func (c *Contract) writeSchema(w io.Writer, kinds []*ResourceKind) error {
	sw := &schemaWriter{
		typeNames:  map[*ComplexType]string{},
		simpleDefs: map[string]*Property{},
		simpleBad:  map[string]bool{},
	}
	order := sw.reach(kinds)

	sw.buf.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	sw.open(0, "xs:schema", false,
		"xmlns:xs", NamespaceXS, "xmlns:sme", NamespaceSME, "xmlns", c.TargetNamespace,
		"targetNamespace", c.TargetNamespace, "elementFormDefault", "qualified")
	for _, k := range kinds {
		sw.kindElement(k)
	}
	for _, t := range order {
		sw.open(1, "xs:complexType", false, "name", sw.typeNames[t])
		sw.content(2, t)
		sw.close(1, "xs:complexType")
	}
	names := make([]string, 0, len(sw.simpleDefs))
	for n := range sw.simpleDefs {
		if !sw.simpleBad[n] {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		sw.open(1, "xs:simpleType", false, "name", n)
		sw.restriction(2, sw.simpleDefs[n])
		sw.close(1, "xs:simpleType")
	}
	sw.close(0, "xs:schema")
	_, err := w.Write(sw.buf.Bytes())
	return err
}

// reach collects, breadth first, the named complex types reachable from kinds,
// giving each a unique rendered name, and the named simple types they use.
func (sw *schemaWriter) reach(kinds []*ResourceKind) []*ComplexType {
	used := map[string]bool{}
	var order []*ComplexType
	seen := map[*ComplexType]bool{}
	var queue []*ComplexType
	push := func(t *ComplexType) {
		if t != nil && !seen[t] {
			seen[t] = true
			queue = append(queue, t)
		}
	}
	for _, k := range kinds {
		push(k.Type)
	}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		if t.Name != "" {
			name := t.Name
			for i := 2; used[name]; i++ {
				name = t.Name + "-" + strconv.Itoa(i)
			}
			used[name] = true
			sw.typeNames[t] = name
			order = append(order, t)
		}
		for _, p := range t.Properties {
			if p.Kind == KindComplex {
				push(p.declared())
				continue
			}
			if p.simpleName == "" || (p.Enum == nil && p.MaxLength == 0) {
				continue
			}
			if prev, ok := sw.simpleDefs[p.simpleName]; ok {
				if !sameSimple(prev, p) {
					sw.simpleBad[p.simpleName] = true
				}
				continue
			}
			sw.simpleDefs[p.simpleName] = p
		}
	}
	return order
}

// declared is the type an element names: the collection type for collections.
func (p *Property) declared() *ComplexType {
	if p.declType != nil {
		return p.declType
	}
	return p.Complex
}

func sameSimple(a, b *Property) bool {
	return a.XSDType == b.XSDType && a.MaxLength == b.MaxLength && slices.Equal(a.Enum, b.Enum)
}

func (sw *schemaWriter) kindElement(k *ResourceKind) {
	attrs := []string{"name", k.Name}
	if k.Type != nil && k.Type.Name != "" {
		attrs = append(attrs, "type", sw.typeNames[k.Type])
	}
	attrs = append(attrs, "sme:role", "resourceKind", "sme:pluralName", k.PluralName)
	if k.Label != "" {
		attrs = append(attrs, "sme:label", k.Label)
	}
	flags := []struct {
		name string
		v    bool
	}{
		{"sme:canGet", k.CanGet}, {"sme:canPost", k.CanPost}, {"sme:canPut", k.CanPut}, {"sme:canDelete", k.CanDelete},
		{"sme:canPageNext", k.CanPageNext}, {"sme:canPagePrevious", k.CanPagePrevious}, {"sme:canPageIndex", k.CanPageIndex},
		{"sme:hasUuid", k.HasUUID}, {"sme:isSyncSource", k.IsSyncSource}, {"sme:isSyncTarget", k.IsSyncTarget},
	}
	for _, f := range flags {
		if f.v {
			attrs = append(attrs, f.name, "true")
		}
	}
	if k.SyncConflictPriority != 0 {
		attrs = append(attrs, "sme:syncConflictPriority", strconv.Itoa(k.SyncConflictPriority))
	}
	if k.SyncOrder != 0 {
		attrs = append(attrs, "sme:syncOrder", strconv.Itoa(k.SyncOrder))
	}
	if k.Type != nil && k.Type.Name == "" {
		sw.open(1, "xs:element", false, attrs...)
		sw.open(2, "xs:complexType", false)
		sw.content(3, k.Type)
		sw.close(2, "xs:complexType")
		sw.close(1, "xs:element")
		return
	}
	sw.open(1, "xs:element", true, attrs...)
}

// content writes the compositor and element declarations of a complex type.
func (sw *schemaWriter) content(depth int, t *ComplexType) {
	comp := t.compositor
	if comp == "" {
		comp = "sequence"
	}
	var attrs []string
	if t.compositor != "" {
		attrs = occursAttrs(t.compMin, t.compMax)
	}
	if len(t.Properties) == 0 {
		sw.open(depth, "xs:"+comp, true, attrs...)
	} else {
		sw.open(depth, "xs:"+comp, false, attrs...)
		for _, p := range t.Properties {
			sw.property(depth+1, p)
		}
		sw.close(depth, "xs:"+comp)
	}
	sw.open(depth, "xs:anyAttribute", true)
}

func occursAttrs(minOcc, maxOcc int) []string {
	var attrs []string
	if minOcc != 1 {
		attrs = append(attrs, "minOccurs", strconv.Itoa(minOcc))
	}
	switch {
	case maxOcc < 0:
		attrs = append(attrs, "maxOccurs", "unbounded")
	case maxOcc != 1:
		attrs = append(attrs, "maxOccurs", strconv.Itoa(maxOcc))
	}
	return attrs
}

// property writes one local element declaration.
func (sw *schemaWriter) property(depth int, p *Property) {
	attrs := []string{"name", p.Name}
	var inlineSimple, inlineComplex bool
	decl := p.declared()
	switch {
	case p.Kind == KindComplex && decl != nil && decl.Name != "":
		attrs = append(attrs, "type", sw.typeNames[decl])
	case p.Kind == KindComplex:
		inlineComplex = decl != nil
	case p.Enum == nil && p.MaxLength == 0:
		attrs = append(attrs, "type", "xs:"+p.xsdName())
	case p.simpleName != "" && !sw.simpleBad[p.simpleName]:
		attrs = append(attrs, "type", p.simpleName)
	default:
		inlineSimple = true
	}
	if p.Nillable {
		attrs = append(attrs, "nillable", "true")
	}
	attrs = append(attrs, occursAttrs(p.MinOccurs, p.MaxOccurs)...)
	if p.Label != "" {
		attrs = append(attrs, "sme:label", p.Label)
	}
	if p.Relationship != RelNone {
		attrs = append(attrs, "sme:relationship", string(p.Relationship), "sme:isCollection", strconv.FormatBool(p.IsCollection))
		if p.RelatedKind != nil {
			// Served at its property URL: {kind}('key')/{property}.
			attrs = append(attrs, "sme:canGet", "true")
		}
	} else if p.IsCollection {
		attrs = append(attrs, "sme:isCollection", "true")
	}
	for _, f := range []struct {
		name string
		v    bool
	}{{"sme:isUniqueKey", p.IsUniqueKey}, {"sme:isMandatory", p.IsMandatory}, {"sme:isReadOnly", p.IsReadOnly}} {
		if f.v {
			attrs = append(attrs, f.name, "true")
		}
	}
	switch {
	case inlineSimple:
		sw.open(depth, "xs:element", false, attrs...)
		sw.open(depth+1, "xs:simpleType", false)
		sw.restriction(depth+2, p)
		sw.close(depth+1, "xs:simpleType")
		sw.close(depth, "xs:element")
	case inlineComplex:
		sw.open(depth, "xs:element", false, attrs...)
		sw.open(depth+1, "xs:complexType", false)
		sw.content(depth+2, decl)
		sw.close(depth+1, "xs:complexType")
		sw.close(depth, "xs:element")
	default:
		sw.open(depth, "xs:element", true, attrs...)
	}
}

// restriction writes the xs:restriction of a simple property's type.
func (sw *schemaWriter) restriction(depth int, p *Property) {
	sw.open(depth, "xs:restriction", false, "base", "xs:"+p.xsdName())
	if p.MaxLength > 0 {
		sw.open(depth+1, "xs:maxLength", true, "value", strconv.Itoa(p.MaxLength))
	}
	for _, e := range p.Enum {
		sw.open(depth+1, "xs:enumeration", true, "value", e)
	}
	sw.close(depth, "xs:restriction")
}

// open writes a start tag (or an empty element when empty) with attribute name/value pairs.
func (sw *schemaWriter) open(depth int, name string, empty bool, attrs ...string) {
	sw.indent(depth)
	sw.buf.WriteString("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		sw.buf.WriteString(" " + attrs[i] + `="`)
		xml.EscapeText(&sw.buf, []byte(attrs[i+1])) //nolint:errcheck // bytes.Buffer writes cannot fail
		sw.buf.WriteString(`"`)
	}
	if empty {
		sw.buf.WriteString("/>\n")
	} else {
		sw.buf.WriteString(">\n")
	}
}

func (sw *schemaWriter) close(depth int, name string) {
	sw.indent(depth)
	sw.buf.WriteString("</" + name + ">\n")
}

func (sw *schemaWriter) indent(depth int) {
	for range depth {
		sw.buf.WriteByte('\t')
	}
}
