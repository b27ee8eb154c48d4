package contracts

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// The loader is split along its seams:
//
//	load.go        entry points and the assembly of a Contract
//	load_docs.go   schema documents: parsing, imports, includes, the definition tables
//	load_types.go  simple and complex types: restrictions, extensions, content models
//	load_decls.go  resource kinds and properties: element declarations and sme: attributes
//
// Every reference (type, base, ref) is resolved to a qname, namespace URI and
// local name, with prefixes resolved against the namespace declarations in
// scope where the reference is written; definitions are keyed by qname, so
// two types with the same local name in different namespaces never meet.

// qname is a namespace-qualified name.
type qname struct{ space, local string }

// String renders q in Clark notation, {namespace}local, for error messages.
func (q qname) String() string {
	if q.space == "" {
		return q.local
	}
	return "{" + q.space + "}" + q.local
}

// schemaDoc is one loaded schema document: a file read in one target namespace.
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

// loader turns a set of schema files into a Contract.
type loader struct {
	read func(p string) ([]byte, error)
	join func(base, loc string) (string, error)

	trees  map[string]*node // parsed files by path: a file is read and parsed once
	loaded map[docKey]bool  // documents registered, by file and target namespace
	docs   []*schemaDoc     // in load order, the root document first

	simples map[qname]def
	cplx    map[qname]def
	elems   map[qname]def
	groups  map[qname]def

	simpleDone map[qname]*simpleInfo
	simpleBusy map[qname]bool  // named simple types on the current derivation chain
	named      map[qname]*fill // named complex types created so far
	fills      []*fill         // every complex type, named or anonymous, in creation order
	groupBusy  map[qname]bool  // model groups being expanded (a group that reaches itself)
}

// Load reads an XSD contract file and the files it imports or includes
// (relative schemaLocation) and returns the model. name is the contract's URL
// name; if empty it is derived from the file name without extension.
func Load(p, name string) (*Contract, error) {
	l := newLoader(os.ReadFile, func(base, loc string) (string, error) {
		if filepath.IsAbs(loc) {
			return filepath.Clean(loc), nil
		}
		return filepath.Join(filepath.Dir(base), filepath.FromSlash(loc)), nil
	})
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
	}
	return l.load(filepath.Clean(p), name)
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
	return l.load(path.Clean(p), name)
}

func newLoader(read func(string) ([]byte, error), join func(string, string) (string, error)) *loader {
	return &loader{
		read:       read,
		join:       join,
		trees:      map[string]*node{},
		loaded:     map[docKey]bool{},
		simples:    map[qname]def{},
		cplx:       map[qname]def{},
		elems:      map[qname]def{},
		groups:     map[qname]def{},
		simpleDone: map[qname]*simpleInfo{},
		simpleBusy: map[qname]bool{},
		named:      map[qname]*fill{},
		groupBusy:  map[qname]bool{},
	}
}

func isXS(n *node, local string) bool {
	return n.name.Space == NamespaceXS && n.name.Local == local
}

func (l *loader) load(p, name string) (*Contract, error) {
	root, err := l.addDoc(p, "")
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
				l.complexRef(q)
			}
		}
	}
	if err := l.fillAll(); err != nil {
		return nil, err
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
				continue // the same name declared twice (an included file); first one wins
			}
			c.Kinds = append(c.Kinds, k)
			if _, ok := byType[k.Type]; !ok {
				byType[k.Type] = k
			}
		}
	}
	if err := l.fillAll(); err != nil { // anonymous types of the kinds
		return nil, err
	}

	// Collections and relationships can only be settled once every type is filled.
	for _, f := range l.fills {
		for _, p := range f.t.Properties {
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

func errAt(d *schemaDoc, n *node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", d.file, n.line, fmt.Sprintf(format, args...))
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

// resolve resolves the QName value v of an attribute of n (type, base, ref),
// written in document d, against the namespace declarations in scope at n.
// An unprefixed name without a default namespace in scope is taken in d's
// target namespace (leniency the published contracts do not need, kept for
// hand-written ones).
func resolve(d *schemaDoc, n *node, v string) (qname, error) {
	space, local, err := n.resolveQName(v, d.tns)
	if err != nil {
		return qname{}, err
	}
	return qname{space, local}, nil
}
