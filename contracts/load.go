package contracts

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// qname is a namespace-qualified name.
type qname struct{ space, local string }

// schemaDoc is one loaded schema file.
type schemaDoc struct {
	file string
	tns  string
	root *node
}

// def is a top-level definition: the node and the document it lives in.
type def struct {
	doc *schemaDoc
	n   *node
}

// simpleInfo is a resolved simple type.
type simpleInfo struct {
	xsdType   string
	kind      ValueKind
	enum      []string
	maxLength int
}

// loader turns a set of schema files into a Contract.
type loader struct {
	read func(p string) ([]byte, error)
	join func(base, loc string) (string, error)

	loaded  map[string]bool
	docs    []*schemaDoc
	simples map[qname]def
	cplx    map[qname]def
	elems   map[qname]def
	groups  map[qname]def

	simpleDone  map[qname]*simpleInfo
	simpleBusy  map[qname]bool
	complexDone map[qname]*ComplexType
	complexBusy map[qname]bool
	allTypes    []*ComplexType
}

// Load reads an XSD contract file and the files it imports or includes
// (relative schemaLocation) and returns the model. name is the contract's URL
// name; if empty it is derived from the file name without extension.
func Load(p, name string) (*Contract, error) {
	l := newLoader(os.ReadFile, func(base, loc string) (string, error) {
		if filepath.IsAbs(loc) {
			return loc, nil
		}
		return filepath.Join(filepath.Dir(base), filepath.FromSlash(loc)), nil
	})
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
	}
	return l.load(p, name)
}

// LoadFS is Load over an fs.FS (used for the embedded built-ins).
func LoadFS(fsys fs.FS, p, name string) (*Contract, error) {
	l := newLoader(func(p string) ([]byte, error) { return fs.ReadFile(fsys, p) },
		func(base, loc string) (string, error) {
			j := path.Join(path.Dir(base), loc)
			if !fs.ValidPath(j) {
				return "", fmt.Errorf("schemaLocation %q leaves the file system", loc)
			}
			return j, nil
		})
	if name == "" {
		name = strings.TrimSuffix(path.Base(p), path.Ext(p))
	}
	return l.load(p, name)
}

func newLoader(read func(string) ([]byte, error), join func(string, string) (string, error)) *loader {
	return &loader{
		read:        read,
		join:        join,
		loaded:      map[string]bool{},
		simples:     map[qname]def{},
		cplx:        map[qname]def{},
		elems:       map[qname]def{},
		groups:      map[qname]def{},
		simpleDone:  map[qname]*simpleInfo{},
		simpleBusy:  map[qname]bool{},
		complexDone: map[qname]*ComplexType{},
		complexBusy: map[qname]bool{},
	}
}

func isXS(n *node, local string) bool {
	return n.name.Space == NamespaceXS && n.name.Local == local
}

func (l *loader) load(p, name string) (*Contract, error) {
	data, err := l.read(p)
	if err != nil {
		return nil, fmt.Errorf("contract %s: %w", p, err)
	}
	root, err := l.addDoc(p, data, "")
	if err != nil {
		return nil, err
	}
	c := &Contract{Name: name, TargetNamespace: root.tns}

	// Resolve every named type, so that errors anywhere are reported.
	for _, d := range l.docs {
		for _, ch := range d.root.children {
			nm, _ := ch.attr("", "name")
			q := qname{d.tns, nm}
			switch {
			case isXS(ch, "simpleType") && nm != "":
				if _, err := l.simple(q); err != nil {
					return nil, err
				}
			case isXS(ch, "complexType") && nm != "":
				if _, err := l.complex(q); err != nil {
					return nil, err
				}
			}
		}
	}

	byType := map[*ComplexType]*ResourceKind{}
	for _, d := range l.docs {
		if d.tns != root.tns {
			continue
		}
		for _, ch := range d.root.children {
			if !isXS(ch, "element") {
				continue
			}
			if role, _ := ch.attr(NamespaceSME, "role"); role != "resourceKind" {
				continue
			}
			k, err := l.kind(d, ch)
			if err != nil {
				return nil, err
			}
			if c.KindByElement(k.Name) != nil {
				continue // same file reached twice; first one wins
			}
			c.Kinds = append(c.Kinds, k)
			if _, ok := byType[k.Type]; !ok {
				byType[k.Type] = k
			}
		}
	}

	// Collections and relationships can only be settled once every type is filled.
	for _, t := range l.allTypes {
		for _, p := range t.Properties {
			if p.Kind != KindComplex {
				continue
			}
			p.Complex = p.declType
			if item := p.declType.listItem(); item != nil {
				p.Complex = item.declType
				p.ItemName = item.Name
			}
			if p.Relationship != RelNone {
				p.RelatedKind = byType[p.Complex]
			}
		}
	}
	return c, nil
}

// addDoc parses one schema file, registers its definitions and loads what it
// imports or includes. inheritNS is the includer's namespace for chameleon includes.
func (l *loader) addDoc(file string, data []byte, inheritNS string) (*schemaDoc, error) {
	l.loaded[file] = true
	root, err := parseTree(file, data)
	if err != nil {
		return nil, err
	}
	if !isXS(root, "schema") {
		return nil, fmt.Errorf("%s:%d: root element is %s, not xs:schema", file, root.line, root.name.Local)
	}
	tns, ok := root.attr("", "targetNamespace")
	if !ok {
		tns = inheritNS
	}
	d := &schemaDoc{file: file, tns: tns, root: root}
	l.docs = append(l.docs, d)
	for _, ch := range root.children {
		nm, _ := ch.attr("", "name")
		q := qname{tns, nm}
		switch {
		case isXS(ch, "simpleType"):
			register(l.simples, q, d, ch)
		case isXS(ch, "complexType"):
			register(l.cplx, q, d, ch)
		case isXS(ch, "element"):
			register(l.elems, q, d, ch)
		case isXS(ch, "group"):
			register(l.groups, q, d, ch)
		case isXS(ch, "import"), isXS(ch, "include"), isXS(ch, "redefine"):
			if err := l.follow(d, ch); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

func register(m map[qname]def, q qname, d *schemaDoc, n *node) {
	if q.local == "" {
		return
	}
	if _, dup := m[q]; !dup {
		m[q] = def{d, n}
	}
}

// follow loads the file named by an xs:import/xs:include's schemaLocation.
func (l *loader) follow(d *schemaDoc, n *node) error {
	loc, ok := n.attr("", "schemaLocation")
	loc = strings.TrimSpace(loc)
	if !ok || loc == "" || strings.Contains(loc, "://") {
		return nil // nothing we can or need to fetch; missing types are reported where used
	}
	target, err := l.join(d.file, loc)
	if err != nil {
		return fmt.Errorf("%s:%d: %s: %v", d.file, n.line, n.name.Local, err)
	}
	if l.loaded[target] {
		return nil // already loaded (also breaks import cycles)
	}
	data, err := l.read(target)
	if err != nil {
		return fmt.Errorf("%s:%d: %s %q: %v", d.file, n.line, n.name.Local, loc, err)
	}
	inherit := ""
	if n.name.Local != "import" {
		inherit = d.tns
	}
	sub, err := l.addDoc(target, data, inherit)
	if err != nil {
		return err
	}
	if n.name.Local != "import" && sub.tns != d.tns {
		return fmt.Errorf("%s:%d: included schema %q has targetNamespace %q, want %q", d.file, n.line, loc, sub.tns, d.tns)
	}
	return nil
}

func errAt(d *schemaDoc, n *node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", d.file, n.line, fmt.Sprintf(format, args...))
}

// smeBool reads a boolean sme: attribute ("true"/"false", also "1"/"0").
func smeBool(d *schemaDoc, n *node, local string) (bool, error) {
	v, ok := n.attr(NamespaceSME, local)
	if !ok {
		return false, nil
	}
	switch strings.TrimSpace(v) {
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

// describe names an XSD node for error messages, e.g. `element "foo"`.
func describe(n *node) string {
	if nm, ok := n.attr("", "name"); ok {
		return fmt.Sprintf("%s %q", n.name.Local, nm)
	}
	if ref, ok := n.attr("", "ref"); ok {
		return fmt.Sprintf("%s ref %q", n.name.Local, ref)
	}
	return n.name.Local
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

// elementType resolves the type of an element declaration: exactly one of the
// results is non-nil on success.
func (l *loader) elementType(d *schemaDoc, n *node) (*ComplexType, *simpleInfo, error) {
	if tv, ok := n.attr("", "type"); ok {
		space, local, err := n.resolveQName(tv, d.tns)
		if err != nil {
			return nil, nil, errAt(d, n, "%s: %v", describe(n), err)
		}
		q := qname{space, local}
		if space == NamespaceXS {
			if local == "anyType" {
				return nil, &simpleInfo{xsdType: "anyType", kind: KindString}, nil
			}
			if k, ok := builtinKinds[local]; ok {
				return nil, &simpleInfo{xsdType: local, kind: k}, nil
			}
			return nil, nil, errAt(d, n, "%s: unknown type %q", describe(n), tv)
		}
		if _, ok := l.simples[q]; ok {
			s, err := l.simple(q)
			return nil, s, err
		}
		if _, ok := l.cplx[q]; ok {
			t, err := l.complex(q)
			return t, nil, err
		}
		return nil, nil, errAt(d, n, "%s: unknown type %q", describe(n), tv)
	}
	for _, ch := range n.children {
		switch {
		case isXS(ch, "simpleType"):
			s, err := l.simpleNode(d, ch)
			return nil, s, err
		case isXS(ch, "complexType"):
			t := newComplexType("")
			l.allTypes = append(l.allTypes, t)
			return t, nil, l.fillComplex(d, ch, t)
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
		return nil, errAt(df.doc, df.n, "simpleType %q derives from itself", q.local)
	}
	l.simpleBusy[q] = true
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
		space, local, err := n.resolveQName(bv, d.tns)
		if err != nil {
			return nil, errAt(d, n, "restriction: %v", err)
		}
		q := qname{space, local}
		if k, ok := builtinKinds[local]; ok && space == NamespaceXS {
			base = &simpleInfo{xsdType: local, kind: k}
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

// complex resolves a named complex type. The type is registered before its
// properties are filled, so recursive references get the same pointer.
func (l *loader) complex(q qname) (*ComplexType, error) {
	if t, ok := l.complexDone[q]; ok {
		return t, nil
	}
	df := l.cplx[q]
	t := newComplexType(q.local)
	l.complexDone[q] = t
	l.allTypes = append(l.allTypes, t)
	l.complexBusy[q] = true
	defer delete(l.complexBusy, q)
	return t, l.fillComplex(df.doc, df.n, t)
}

// fillComplex reads the content model of an xs:complexType node into t.
func (l *loader) fillComplex(d *schemaDoc, n *node, t *ComplexType) error {
	t.compMin, t.compMax = 1, 1
	for _, ch := range n.children {
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
	return nil
}

// extend copies the properties of an xs:extension's base type into t.
func (l *loader) extend(d *schemaDoc, n *node, t *ComplexType) error {
	bv, _ := n.attr("", "base")
	space, local, err := n.resolveQName(bv, d.tns)
	if err != nil {
		return errAt(d, n, "extension: %v", err)
	}
	q := qname{space, local}
	if space == NamespaceXS && local == "anyType" {
		return nil
	}
	if _, ok := l.cplx[q]; !ok {
		return errAt(d, n, "extension: unknown base type %q", bv)
	}
	if l.complexBusy[q] {
		return errAt(d, n, "extension: type %q derives from itself", bv)
	}
	base, err := l.complex(q)
	if err != nil {
		return err
	}
	t.Properties = append(t.Properties, base.Properties...)
	if t.compositor == "" {
		t.compositor, t.compMin, t.compMax = base.compositor, base.compMin, base.compMax
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
	return l.particles(d, n, t, 0)
}

// particles collects the element declarations of a compositor, flattening
// nested compositors and group references.
func (l *loader) particles(d *schemaDoc, n *node, t *ComplexType, depth int) error {
	if depth > 64 {
		return errAt(d, n, "model groups nested too deeply (group referring to itself?)")
	}
	if isXS(n, "group") {
		if rv, ok := n.attr("", "ref"); ok {
			space, local, err := n.resolveQName(rv, d.tns)
			if err != nil {
				return errAt(d, n, "group: %v", err)
			}
			g, ok := l.groups[qname{space, local}]
			if !ok {
				return errAt(d, n, "unknown group %q", rv)
			}
			return l.particles(g.doc, g.n, t, depth+1)
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
			if err := l.particles(d, ch, t, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// property builds a property from a local element declaration.
func (l *loader) property(d *schemaDoc, n *node) (*Property, error) {
	decl, declDoc := n, d
	name, _ := n.attr("", "name")
	if rv, ok := n.attr("", "ref"); ok && name == "" {
		space, local, err := n.resolveQName(rv, d.tns)
		if err != nil {
			return nil, errAt(d, n, "element ref: %v", err)
		}
		g, ok := l.elems[qname{space, local}]
		if !ok {
			return nil, errAt(d, n, "element ref %q: unknown element", rv)
		}
		decl, declDoc, name = g.n, g.doc, local
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
		if space, local, err := decl.resolveQName(tv, declDoc.tns); err == nil && space != NamespaceXS {
			p.simpleName = local
		}
	}
	return p, nil
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
