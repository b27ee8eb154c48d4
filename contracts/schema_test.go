package contracts

import (
	"bytes"
	"encoding/xml"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func testRoundTrip(t *testing.T, c *Contract) {
	t.Run("WriteSchema", func(t *testing.T) {
		got := roundTrip(t, func(b *bytes.Buffer) error { return c.WriteSchema(b) })
		compareKinds(t, c, got, c.Kinds, false)
	})
	for _, k := range c.Kinds {
		t.Run("WriteKindSchema/"+k.Name, func(t *testing.T) {
			t.Parallel() // the real contracts have 108 kinds of up to 800 KB of schema each
			got := roundTrip(t, func(b *bytes.Buffer) error { return c.WriteKindSchema(b, k) })
			compareKinds(t, c, got, []*ResourceKind{k}, true)
		})
	}
}

func TestRoundTripBuiltin(t *testing.T) { testRoundTrip(t, mustBuiltin(t)) }

func TestRoundTripFeatures(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "features", "main.xsd"), "")
	if err != nil {
		t.Fatal(err)
	}
	testRoundTrip(t, c)
}

// TestWriteSchemaShape checks the document header and the sme: attributes of a kind.
func TestWriteSchemaShape(t *testing.T) {
	c := mustBuiltin(t)
	var buf bytes.Buffer
	if err := c.WriteKindSchema(&buf, c.Kind("contacts")); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	var root xml.StartElement
	elements := map[string]bool{}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("rendered schema is not well-formed: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root.Name.Local == "" {
			root = se
		}
		if se.Name.Local == "complexType" {
			for _, a := range se.Attr {
				if a.Name.Local == "name" {
					elements[a.Value] = true
				}
			}
		}
	}
	if root.Name.Space != NamespaceXS || root.Name.Local != "schema" {
		t.Fatalf("root %v", root.Name)
	}
	attrs := map[string]string{}
	for _, a := range root.Attr {
		attrs[a.Name.Space+" "+a.Name.Local] = a.Value
	}
	if attrs[" targetNamespace"] != c.TargetNamespace || attrs[" elementFormDefault"] != "qualified" ||
		attrs["xmlns sme"] != NamespaceSME {
		t.Errorf("schema attributes %v", attrs)
	}
	s := buf.String()
	for _, want := range []string{
		`<xs:element name="contact" type="contact--type" sme:role="resourceKind" sme:pluralName="contacts"`,
		`sme:isSyncSource="true"`, `sme:syncOrder="60"`,
		`<xs:element name="tradingAccount" type="tradingAccount--type" nillable="true" minOccurs="0" sme:label="Contact TradingAccount" sme:relationship="reference" sme:isCollection="false" sme:canGet="true"/>`,
		`<xs:simpleType name="contactGender--enum">`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("rendered schema lacks %s", want)
		}
	}
	// contact reaches tradingAccount (reference) but not salesOrder.
	if !elements["contact--type"] || !elements["tradingAccount--type"] || elements["salesOrder--type"] {
		t.Errorf("reached types %v", elements)
	}
	if strings.Contains(s, `name="tradingAccount" type="tradingAccount--type" sme:role`) {
		t.Error("single-kind schema declares another kind")
	}
	if err := c.WriteKindSchema(&buf, nil); err == nil {
		t.Error("WriteKindSchema(nil) succeeded")
	}
}

// TestWriteSchemaNameClash renders two distinct types of the same local name
// (from different namespaces) under distinct names.
func TestWriteSchemaNameClash(t *testing.T) {
	a := &ComplexType{Name: "t", Properties: []*Property{{Name: "x", XSDType: "string", Kind: KindString, MinOccurs: 1, MaxOccurs: 1}}}
	b := &ComplexType{Name: "t", Properties: []*Property{{Name: "y", XSDType: "int", Kind: KindInteger, MinOccurs: 1, MaxOccurs: 1}}}
	a.Properties = append(a.Properties, &Property{Name: "other", Kind: KindComplex, Complex: b, MinOccurs: 1, MaxOccurs: 1})
	c := &Contract{Name: "clash", TargetNamespace: "urn:clash", Kinds: []*ResourceKind{{Name: "k", PluralName: "ks", Namespace: "urn:clash", Type: a}}}
	got := roundTrip(t, func(w *bytes.Buffer) error { return c.WriteSchema(w) })
	o := got.Kinds[0].Type.Property("other")
	if o == nil || o.Complex == nil || o.Complex.Name != "t-2" || o.Complex.Property("y") == nil {
		t.Fatalf("other = %+v", o)
	}
}

func BenchmarkLoadRealGCRM(b *testing.B) {
	p := sharedFile(b, "sdata/contracts/crmErp.xsd")
	for b.Loop() {
		if _, err := Load(p, ""); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteSchemaRealGCRM(b *testing.B) {
	c := loadGCRM(b)
	for b.Loop() {
		if err := c.WriteSchema(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
