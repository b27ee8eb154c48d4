package contracts

import (
	"fmt"
	"strings"
)

// docKey names a schema document: the file and the target namespace it is
// read in. A file with a targetNamespace has one document however often it
// is imported; a chameleon file (no targetNamespace) has one per namespace
// that includes it.
type docKey struct{ file, tns string }

// tree returns the parsed file, reading and parsing it on first use.
// readErr is set when the file could not be read; err, when it is not a
// schema (the error names file and line).
func (l *loader) tree(file string) (root *node, readErr, err error) {
	if root, ok := l.trees[file]; ok {
		return root, nil, nil
	}
	data, readErr := l.read(file)
	if readErr != nil {
		return nil, readErr, nil
	}
	if root, err = parseTree(file, data); err != nil {
		return nil, nil, err
	}
	if !isXS(root, "schema") {
		return nil, nil, fmt.Errorf("%s:%d: root element is %s, not xs:schema", file, root.line, root.name.Local)
	}
	l.trees[file] = root
	return root, nil, nil
}

// docNamespace is the target namespace file is read in: its own, or
// inheritNS (the includer's) for a chameleon include.
func docNamespace(root *node, inheritNS string) string {
	if tns, ok := root.attr("", "targetNamespace"); ok {
		return tns
	}
	return inheritNS
}

// addDoc registers the definitions of one schema file and loads what it
// imports or includes. inheritNS is the includer's namespace for chameleon
// includes. A document already registered is returned as it is, which ends
// import cycles.
func (l *loader) addDoc(file, inheritNS string) (*schemaDoc, error) {
	root, readErr, err := l.tree(file)
	if readErr != nil {
		return nil, fmt.Errorf("contract %s: %w", file, readErr)
	}
	if err != nil {
		return nil, err
	}
	return l.register(file, root, docNamespace(root, inheritNS))
}

// register records the document (file, tns) and its top-level definitions,
// then follows its imports and includes, depth first.
func (l *loader) register(file string, root *node, tns string) (*schemaDoc, error) {
	d := &schemaDoc{file: file, tns: tns, root: root}
	l.loaded[docKey{file, tns}] = true
	l.docs = append(l.docs, d)
	for _, ch := range root.children {
		nm, _ := ch.attr("", "name")
		q := qname{tns, nm}
		switch {
		case isXS(ch, "simpleType"):
			define(l.simples, q, d, ch)
		case isXS(ch, "complexType"):
			define(l.cplx, q, d, ch)
		case isXS(ch, "element"):
			define(l.elems, q, d, ch)
		case isXS(ch, "group"):
			define(l.groups, q, d, ch)
		case isXS(ch, "import"), isXS(ch, "include"), isXS(ch, "redefine"):
			if err := l.follow(d, ch); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// define adds a definition; the first definition of a qname wins.
func define(m map[qname]def, q qname, d *schemaDoc, n *node) {
	if q.local == "" {
		return
	}
	if _, dup := m[q]; !dup {
		m[q] = def{d, n}
	}
}

// follow loads the document named by an xs:import/xs:include's
// schemaLocation, unless it is loaded already (which also ends cycles:
// a.xsd imports b.xsd imports a.xsd).
func (l *loader) follow(d *schemaDoc, n *node) error {
	loc, ok := n.attr("", "schemaLocation")
	loc = strings.TrimSpace(loc)
	if !ok || loc == "" || strings.Contains(loc, "://") {
		return nil // nothing we can or need to fetch; missing types are reported where used
	}
	target, err := l.join(d.file, loc)
	if err != nil {
		return errAt(d, n, "%s: %v", n.name.Local, err)
	}
	root, readErr, err := l.tree(target)
	if readErr != nil {
		return errAt(d, n, "%s %q: %v", n.name.Local, loc, readErr)
	}
	if err != nil {
		return err
	}
	isImport := n.name.Local == "import"
	inherit := d.tns
	if isImport {
		inherit = ""
	}
	tns := docNamespace(root, inherit)
	if !isImport && tns != d.tns {
		return errAt(d, n, "included schema %q has targetNamespace %q, want %q", loc, tns, d.tns)
	}
	if l.loaded[docKey{target, tns}] {
		return nil
	}
	_, err = l.register(target, root, tns)
	return err
}
