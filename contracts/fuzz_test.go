package contracts

import (
	"bytes"
	"testing"
	"testing/fstest"
)

// FuzzLoad feeds arbitrary bytes to the loader (as the root file c.xsd of
// namespace urn:t, with a fixed o.xsd next to it that imports c.xsd back and
// extends its type t with a type of the same local name in urn:o). It must
// never panic, and a contract that loads must render and load back.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(xsdHead + `<xs:element name="k" type="t" sme:role="resourceKind" sme:canGet="true"/>
<xs:complexType name="t"><xs:sequence><xs:element name="a" type="xs:int"/><xs:element name="l" type="t--list"/></xs:sequence></xs:complexType>
<xs:complexType name="t--list"><xs:sequence><xs:element name="t" type="t" maxOccurs="unbounded"/></xs:sequence></xs:complexType></xs:schema>`))
	f.Add([]byte(xsdHead + `<xs:import namespace="urn:o" schemaLocation="o.xsd"/><xs:simpleType name="s"><xs:restriction base="s"/></xs:simpleType></xs:schema>`))
	f.Add([]byte(xsdHead + `<xs:complexType name="t"><xs:complexContent><xs:extension base="t"/></xs:complexContent></xs:complexType></xs:schema>`))
	f.Add([]byte(xsdHead + `<xs:group name="g"><xs:sequence><xs:group ref="g"/></xs:sequence></xs:group><xs:complexType name="t"><xs:group ref="g"/></xs:complexType></xs:schema>`))
	// Sage's hrmErp/famErp shape: t reaches o:t (which extends t) through a property.
	f.Add([]byte(xsdHead + `<xs:import namespace="urn:o" schemaLocation="o.xsd"/><xs:element name="k" type="t" sme:role="resourceKind"/>
<xs:complexType name="t"><xs:sequence><xs:element name="a" type="xs:int"/><xs:element name="os" type="o:t--list" xmlns:o="urn:o" sme:relationship="child"/></xs:sequence></xs:complexType></xs:schema>`))
	if data, err := builtinFS.ReadFile("builtin/gcrm.xsd"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"c.xsd": &fstest.MapFile{Data: data},
			"o.xsd": &fstest.MapFile{Data: []byte(fuzzOther)},
		}
		c, err := LoadFS(fsys, "c.xsd", "")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := c.WriteSchema(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadFS(fstest.MapFS{"r.xsd": &fstest.MapFile{Data: buf.Bytes()}}, "r.xsd", ""); err != nil {
			t.Fatalf("rendered schema does not load back: %v\n%s", err, buf.String())
		}
	})
}

// fuzzOther is FuzzLoad's fixed o.xsd.
const fuzzOther = `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:o" xmlns="urn:o" xmlns:t="urn:t">
<xs:import namespace="urn:t" schemaLocation="c.xsd"/>
<xs:complexType name="t"><xs:complexContent><xs:extension base="t:t"><xs:sequence><xs:element name="b" type="xs:string" minOccurs="0"/></xs:sequence></xs:extension></xs:complexContent></xs:complexType>
<xs:complexType name="t--list"><xs:sequence maxOccurs="unbounded"><xs:element name="t" type="t"/></xs:sequence></xs:complexType></xs:schema>`

// FuzzCheckValue checks that CheckValue never panics on any kind.
func FuzzCheckValue(f *testing.F) {
	for _, s := range []string{"", "1", "-0.5", "2024-02-29", "2024-01-01T24:00:00Z", "12:00:00+14:00", "true", "1e5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for xsd, k := range builtinKinds {
			p := &Property{Name: "p", XSDType: xsd, Kind: k, MaxLength: 5, Enum: []string{"1", "a"}}
			_ = p.CheckValue(s)
		}
	})
}
