package payload

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/feeds"
)

// prefixNS are the namespaces a stored payload may use by prefix (as
// canonicalBefore named them).
var prefixNS = map[string]string{"sdata": feeds.SDataNS, "xsi": feeds.XSINS}

// canonicalBefore is Canonical as it was written first, on etree's own
// calls (a copy, RemoveAttr by name, removal and re-insertion of every
// child, a Document to write): the reference the faster one must match byte
// for byte, since stored payloads and their ETags follow from it.
func canonicalBefore(c *contracts.Contract, k *contracts.ResourceKind, el *etree.Element, key string) (stored, props []byte, title string, err error) {
	root := el.Copy()
	root.Space, root.Tag = "", k.Name
	dropDeletedChildren(k, root)
	StripDerived(root)
	for p := range prefixNS {
		root.RemoveAttr("xmlns:" + p)
	}
	root.CreateAttr("xmlns", c.TargetNamespace)
	var drop func(e *etree.Element)
	drop = func(e *etree.Element) {
		for _, ch := range e.ChildElements() {
			if ch.SelectAttrValue("xmlns", "\x00") == c.TargetNamespace {
				ch.RemoveAttr("xmlns")
			}
			for p := range prefixNS {
				ch.RemoveAttr("xmlns:" + p)
			}
			drop(ch)
		}
	}
	drop(root)
	dropUnknownAttrs(root)
	used := map[string]bool{}
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		for _, a := range e.Attr {
			if _, ok := prefixNS[a.Space]; ok {
				used[a.Space] = true
			}
		}
		for _, ch := range e.ChildElements() {
			walk(ch)
		}
	}
	walk(root)
	for _, p := range []string{"sdata", "xsi"} {
		if used[p] && root.SelectAttr("xmlns:"+p) == nil {
			root.CreateAttr("xmlns:"+p, prefixNS[p])
		}
	}
	kids := root.ChildElements()
	slices.SortStableFunc(kids, func(a, b *etree.Element) int { return k.Type.Index(a.Tag) - k.Type.Index(b.Tag) })
	for _, ch := range root.ChildElements() {
		root.RemoveChild(ch)
	}
	for _, ch := range kids {
		root.AddChild(ch)
	}
	doc := etree.NewDocument()
	doc.SetRoot(root)
	doc.WriteSettings.CanonicalEndTags = false
	if stored, err = doc.WriteToBytes(); err != nil {
		return nil, nil, "", err
	}
	var fields []propValue
	for _, ch := range kids {
		p := k.Type.Property(ch.Tag)
		if p == nil || p.Kind == contracts.KindComplex || p.MaxOccurs != 1 {
			continue
		}
		fields = append(fields, propValue{p.Name, jsonValue(p, ch)})
	}
	if props, err = appendProps(nil, fields); err != nil {
		return nil, nil, "", err
	}
	return stored, props, Title(k, root, key), nil
}

// checkCanonical parses data as a payload and checks, for the kind its
// root names (tradingAccounts when none), that Canonical and
// CanonicalInPlace give exactly what canonicalBefore gives, and that
// Canonical leaves its argument as it was.
func checkCanonical(t *testing.T, c *contracts.Contract, data []byte) {
	t.Helper()
	el, err := feeds.ParsePayload(bytes.NewReader(data), feeds.Limits{MaxBytes: 1 << 20})
	if err != nil {
		return
	}
	k := c.KindByElement(el.Tag)
	if k == nil {
		k = c.Kind("tradingAccounts")
	}
	before := etree.NewDocument()
	before.SetRoot(el.Copy())
	want, _ := before.WriteToString()

	rs, rp, rt, rerr := canonicalBefore(c, k, el, "K1")
	s1, p1, t1, err1 := Canonical(c, k, el, "K1")
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	if got, _ := doc.WriteToString(); got != want {
		t.Fatalf("Canonical changed its argument:\nbefore %s\nafter  %s", want, got)
	}
	s2, p2, t2, err2 := CanonicalInPlace(c, k, el.Copy(), "K1")
	for i, got := range []struct {
		stored, props []byte
		title         string
		err           error
	}{{s1, p1, t1, err1}, {s2, p2, t2, err2}} {
		if (got.err == nil) != (rerr == nil) || !bytes.Equal(got.stored, rs) || !bytes.Equal(got.props, rp) || got.title != rt {
			t.Fatalf("version %d differs from the reference on\n%s\nstored %s\nwant   %s\nprops %s\nwant  %s\ntitle %q want %q, err %v want %v",
				i+1, data, got.stored, rs, got.props, rp, got.title, rt, got.err, rerr)
		}
	}
}

// canonicalSeeds are payloads with every shape the stored form cares about:
// text between and after properties, properties out of contract order,
// declarations repeated below the root, unknown attributes, deleted and
// kept children, references, nil values.
func canonicalSeeds(t testing.TB, c *contracts.Contract) [][]byte {
	ns := c.TargetNamespace
	sd := `xmlns:sdata="` + feeds.SDataNS + `"`
	xsi := `xmlns:xsi="` + feeds.XSINS + `"`
	docs := []string{
		`<tradingAccount xmlns="` + ns + `"><name>Acme &amp; Co</name><active>true</active></tradingAccount>`,
		`<tradingAccount xmlns="` + ns + `" ` + sd + ` sdata:uuid="6f1e3b52-0d2a-4c1b-8e8e-000000000001" sdata:key="A1" sdata:url="http://x/a">` +
			"\n  <reference>R1</reference>\n  <name>N</name>\n  <active>true</active>\n</tradingAccount>",
		`<tradingAccount xmlns="` + ns + `"><active>false</active><name>after</name>trailing text</tradingAccount>`,
		`<tradingAccount xmlns="` + ns + `"><name>x</name>between<active>1</active></tradingAccount>`,
		`<tradingAccount xmlns="` + ns + `" ` + sd + ` ` + xsi + `><name xmlns="` + ns + `" ` + sd + `>n</name>` +
			`<currency ` + xsi + ` xsi:nil="true"/><creditLimit xmlns:x="urn:x" x:made="up">007</creditLimit></tradingAccount>`,
		`<tradingAccount xmlns="` + ns + `"><postalAddresses ` + sd + ` sdata:deleteMissing="true">` +
			`<postalAddress sdata:uuid="11111111-2222-4333-8444-000000000001" sdata:key="p1"><address1>1 High St</address1></postalAddress>` +
			`<postalAddress sdata:uuid="11111111-2222-4333-8444-000000000002" sdata:isDeleted="true"/></postalAddresses><name>z</name></tradingAccount>`,
		`<contact xmlns="` + ns + `" ` + sd + `><tradingAccount sdata:uuid="6f1e3b52-0d2a-4c1b-8e8e-000000000001"/><surname>S</surname><firstName>F</firstName></contact>`,
		`<tradingAccount xmlns="urn:other"><name>foreign namespace</name></tradingAccount>`,
		`<tradingAccount xmlns="` + ns + `"/>`,
		`<tradingAccount xmlns="` + ns + `"><unknownProperty>u</unknownProperty><name>quotes ' " &lt;&gt;` + "\t\r" + `</name></tradingAccount>`,
	}
	out := make([][]byte, 0, len(docs)+8)
	for _, d := range docs {
		out = append(out, []byte(d))
	}
	// The payloads of the codec's testdata feeds.
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "feeds", "*.xml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := feeds.ParseFeed(bytes.NewReader(b), feeds.Limits{})
		if err != nil {
			continue
		}
		for _, e := range f.Entries {
			if e.Payload != nil {
				doc := etree.NewDocument()
				doc.SetRoot(e.Payload.Copy())
				s, _ := doc.WriteToString()
				out = append(out, []byte(s))
			}
		}
	}
	return out
}

func TestCanonicalMatchesReference(t *testing.T) {
	c, err := contracts.Builtin("gcrm")
	if err != nil {
		t.Fatal(err)
	}
	seeds := canonicalSeeds(t, c)
	if len(seeds) < 12 {
		t.Fatalf("only %d seed payloads", len(seeds))
	}
	for _, d := range seeds {
		checkCanonical(t, c, d)
	}
	// The whitespace between properties, after sorting, ends up where the
	// first form put it: the test above would not notice if both moved it.
	el, _ := feeds.ParsePayload(strings.NewReader(string(seeds[2])), feeds.Limits{})
	stored, _, _, _ := CanonicalInPlace(c, c.Kind("tradingAccounts"), el, "")
	if !bytes.Contains(stored, []byte(`trailing text<active>`)) {
		t.Fatalf("text is no longer moved before the sorted properties: %s", stored)
	}
}

func FuzzCanonical(f *testing.F) {
	c, err := contracts.Builtin("gcrm")
	if err != nil {
		f.Fatal(err)
	}
	for _, d := range canonicalSeeds(f, c) {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkCanonical(t, c, data) })
}
