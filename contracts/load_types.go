package contracts

import (
	"strconv"
	"strings"
)

// simpleInfo is a resolved simple type.
type simpleInfo struct {
	xsdType   string
	kind      ValueKind
	enum      []string
	maxLength int
}

// fill is a complex type and the declaration its content is read from.
//
// Complex types are created on first reference and filled later, from a
// queue (fillAll): a property only needs the pointer of its type, so
// properties may refer to types in any order and recursively, across
// namespaces and import cycles. Only an extension needs its base filled
// first; it fills the base on the spot, so the one recursion while filling
// is the derivation chain, and a type met again on it derives from itself.
type fill struct {
	t     *ComplexType
	doc   *schemaDoc
	n     *node
	state fillState
}

// fillState is how far a complex type's content has been read.
type fillState uint8

const (
	fillQueued fillState = iota // created, content not read yet
	fillBusy                    // being read (on the current derivation chain)
	fillDone                    // complete
)

// complexRef returns the named complex type q (which must be defined),
// creating it, with its content queued for filling, on first use.
func (l *loader) complexRef(q qname) *fill {
	if f, ok := l.named[q]; ok {
		return f
	}
	df := l.cplx[q]
	f := l.queue(newComplexType(q.local), df.doc, df.n)
	l.named[q] = f
	return f
}

// queue records a complex type whose content is read from node n of document d.
func (l *loader) queue(t *ComplexType, d *schemaDoc, n *node) *fill {
	f := &fill{t: t, doc: d, n: n}
	l.fills = append(l.fills, f)
	return f
}

// fillAll fills every queued type, including those queued meanwhile.
func (l *loader) fillAll() error {
	for i := 0; i < len(l.fills); i++ {
		if err := l.fillType(l.fills[i]); err != nil {
			return err
		}
	}
	return nil
}

// fillType reads the content model of f's xs:complexType node into its type.
func (l *loader) fillType(f *fill) error {
	if f.state != fillQueued {
		return nil
	}
	f.state = fillBusy
	d, t := f.doc, f.t
	t.compMin, t.compMax = 1, 1
	for _, ch := range f.n.children {
		switch {
		case isXS(ch, "sequence"), isXS(ch, "all"), isXS(ch, "choice"), isXS(ch, "group"):
			if err := l.topCompositor(d, ch, t); err != nil {
				return err
			}
		case isXS(ch, "complexContent"):
			for _, cc := range ch.children {
				if !isXS(cc, "extension") && !isXS(cc, "restriction") {
					continue
				}
				if cc.name.Local == "extension" {
					if err := l.extend(d, cc, t); err != nil {
						return err
					}
				}
				for _, part := range cc.children {
					if isXS(part, "sequence") || isXS(part, "all") || isXS(part, "choice") || isXS(part, "group") {
						if err := l.topCompositor(d, part, t); err != nil {
							return err
						}
					}
				}
			}
		}
	}
	f.state = fillDone
	return nil
}

// extend copies the properties of an xs:extension's base type into t,
// filling the base first.
func (l *loader) extend(d *schemaDoc, n *node, t *ComplexType) error {
	bv, _ := n.attr("", "base")
	q, err := resolve(d, n, bv)
	if err != nil {
		return errAt(d, n, "extension: %v", err)
	}
	if q == (qname{NamespaceXS, "anyType"}) {
		return nil
	}
	if _, ok := l.cplx[q]; !ok {
		return errAt(d, n, "extension: unknown base type %q", bv)
	}
	base := l.complexRef(q)
	if base.state == fillBusy {
		return errAt(d, n, "extension: type %q (%s) derives from itself", bv, q)
	}
	if err := l.fillType(base); err != nil {
		return err
	}
	t.Properties = append(t.Properties, base.t.Properties...)
	if t.compositor == "" {
		t.compositor, t.compMin, t.compMax = base.t.compositor, base.t.compMin, base.t.compMax
	}
	return nil
}

// topCompositor records the outermost compositor of a type and collects its particles.
func (l *loader) topCompositor(d *schemaDoc, n *node, t *ComplexType) error {
	if t.compositor == "" && n.name.Local != "group" {
		t.compositor = n.name.Local
		var err error
		if t.compMin, err = occurs(d, n, "minOccurs"); err != nil {
			return err
		}
		if t.compMax, err = occurs(d, n, "maxOccurs"); err != nil {
			return err
		}
	}
	return l.particles(d, n, t)
}

// particles collects the element declarations of a compositor, flattening
// nested compositors and group references.
func (l *loader) particles(d *schemaDoc, n *node, t *ComplexType) error {
	if isXS(n, "group") {
		if rv, ok := n.attr("", "ref"); ok {
			q, err := resolve(d, n, rv)
			if err != nil {
				return errAt(d, n, "group: %v", err)
			}
			g, ok := l.groups[q]
			if !ok {
				return errAt(d, n, "unknown group %q", rv)
			}
			if l.groupBusy[q] {
				return errAt(d, n, "group %q (%s) refers to itself", rv, q)
			}
			l.groupBusy[q] = true
			defer delete(l.groupBusy, q)
			return l.particles(g.doc, g.n, t)
		}
	}
	for _, ch := range n.children {
		switch {
		case isXS(ch, "element"):
			p, err := l.property(d, ch)
			if err != nil {
				return err
			}
			t.Properties = append(t.Properties, p)
		case isXS(ch, "sequence"), isXS(ch, "choice"), isXS(ch, "all"), isXS(ch, "group"):
			if err := l.particles(d, ch, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// elementType resolves the type of an element declaration: exactly one of the
// results is non-nil on success. A complex type is returned unfilled when its
// content has not been read yet.
func (l *loader) elementType(d *schemaDoc, n *node) (*ComplexType, *simpleInfo, error) {
	if tv, ok := n.attr("", "type"); ok {
		q, err := resolve(d, n, tv)
		if err != nil {
			return nil, nil, errAt(d, n, "%s: %v", describe(n), err)
		}
		if q.space == NamespaceXS {
			if q.local == "anyType" {
				return nil, &simpleInfo{xsdType: "anyType", kind: KindString}, nil
			}
			if k, ok := builtinKinds[q.local]; ok {
				return nil, &simpleInfo{xsdType: q.local, kind: k}, nil
			}
			return nil, nil, errAt(d, n, "%s: unknown type %q", describe(n), tv)
		}
		if _, ok := l.simples[q]; ok {
			s, err := l.simple(q)
			return nil, s, err
		}
		if _, ok := l.cplx[q]; ok {
			return l.complexRef(q).t, nil, nil
		}
		return nil, nil, errAt(d, n, "%s: unknown type %q", describe(n), tv)
	}
	for _, ch := range n.children {
		switch {
		case isXS(ch, "simpleType"):
			s, err := l.simpleNode(d, ch)
			return nil, s, err
		case isXS(ch, "complexType"):
			return l.queue(newComplexType(""), d, ch).t, nil, nil
		}
	}
	return nil, &simpleInfo{xsdType: "anyType", kind: KindString}, nil
}

// simple resolves a named simple type.
func (l *loader) simple(q qname) (*simpleInfo, error) {
	if s, ok := l.simpleDone[q]; ok {
		return s, nil
	}
	df := l.simples[q]
	if l.simpleBusy[q] {
		return nil, errAt(df.doc, df.n, "simpleType %q (%s) derives from itself", q.local, q)
	}
	l.simpleBusy[q] = true
	defer delete(l.simpleBusy, q)
	s, err := l.simpleNode(df.doc, df.n)
	if err != nil {
		return nil, err
	}
	l.simpleDone[q] = s
	return s, nil
}

// simpleNode resolves an xs:simpleType node (named or anonymous).
func (l *loader) simpleNode(d *schemaDoc, n *node) (*simpleInfo, error) {
	for _, ch := range n.children {
		switch {
		case isXS(ch, "list"), isXS(ch, "union"):
			return &simpleInfo{xsdType: "string", kind: KindString}, nil
		case isXS(ch, "restriction"):
			return l.restriction(d, ch)
		}
	}
	return nil, errAt(d, n, "%s: no xs:restriction, xs:list or xs:union", describe(n))
}

// restriction resolves an xs:restriction of a simple type, with its facets.
func (l *loader) restriction(d *schemaDoc, n *node) (*simpleInfo, error) {
	var base *simpleInfo
	if bv, ok := n.attr("", "base"); ok {
		q, err := resolve(d, n, bv)
		if err != nil {
			return nil, errAt(d, n, "restriction: %v", err)
		}
		if k, ok := builtinKinds[q.local]; ok && q.space == NamespaceXS {
			base = &simpleInfo{xsdType: q.local, kind: k}
		} else if _, ok := l.simples[q]; ok {
			if base, err = l.simple(q); err != nil {
				return nil, err
			}
		}
		if base == nil {
			return nil, errAt(d, n, "restriction: unknown base type %q", bv)
		}
	} else {
		for _, ch := range n.children {
			if isXS(ch, "simpleType") {
				b, err := l.simpleNode(d, ch)
				if err != nil {
					return nil, err
				}
				base = b
			}
		}
		if base == nil {
			return nil, errAt(d, n, "restriction without a base type")
		}
	}
	out := *base
	var enum []string
	for _, ch := range n.children {
		v, _ := ch.attr("", "value")
		switch {
		case isXS(ch, "enumeration"):
			enum = append(enum, v)
		case isXS(ch, "maxLength"), isXS(ch, "length"):
			i, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || i < 0 {
				return nil, errAt(d, ch, "%s value %q is not a non-negative integer", ch.name.Local, v)
			}
			out.maxLength = i
		}
	}
	if enum != nil {
		out.enum = enum
	}
	return &out, nil
}

// builtinKinds maps the XML Schema built-in simple types to value kinds.
var builtinKinds = map[string]ValueKind{
	"string": KindString, "normalizedString": KindString, "token": KindString, "language": KindString,
	"Name": KindString, "NCName": KindString, "ID": KindString, "IDREF": KindString, "IDREFS": KindString,
	"ENTITY": KindString, "ENTITIES": KindString, "NMTOKEN": KindString, "NMTOKENS": KindString,
	"anyURI": KindString, "QName": KindString, "NOTATION": KindString, "base64Binary": KindString,
	"hexBinary": KindString, "duration": KindString, "dayTimeDuration": KindString, "yearMonthDuration": KindString,
	"gYear": KindString, "gYearMonth": KindString, "gMonth": KindString, "gMonthDay": KindString, "gDay": KindString,
	"anySimpleType": KindString, "anyAtomicType": KindString,
	"integer": KindInteger, "int": KindInteger, "long": KindInteger, "short": KindInteger, "byte": KindInteger,
	"nonNegativeInteger": KindInteger, "nonPositiveInteger": KindInteger, "positiveInteger": KindInteger,
	"negativeInteger": KindInteger, "unsignedLong": KindInteger, "unsignedInt": KindInteger,
	"unsignedShort": KindInteger, "unsignedByte": KindInteger,
	"decimal": KindDecimal, "double": KindDecimal, "float": KindDecimal,
	"boolean":  KindBoolean,
	"date":     KindDate,
	"dateTime": KindDateTime, "dateTimeStamp": KindDateTime,
	"time": KindTime,
}
