package contracts

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestRealGCRM(t *testing.T) {
	c := loadGCRM(t)
	if len(c.Kinds) != 52 {
		t.Fatalf("%d resource kinds, want 52", len(c.Kinds))
	}
	if c.Name != "gcrm-real" || c.TargetNamespace != "http://schemas.sage.com/crmErp/2008" {
		t.Errorf("name %q namespace %q", c.Name, c.TargetNamespace)
	}
	if c.Kind("operatingCompanies") != nil {
		t.Error("kinds of the imported sc namespace must not be kinds of the contract")
	}
	ta := c.Kind("tradingAccounts")
	if ta == nil || !ta.CanGet || !ta.CanPost || !ta.CanPut || !ta.CanDelete || !ta.HasUUID ||
		!ta.IsSyncSource || !ta.IsSyncTarget || ta.SyncOrder != 50 || ta.CanPageIndex {
		t.Fatalf("tradingAccount = %+v", ta)
	}
	if k := c.Kind("unitsOfMeasure"); k == nil || k.Name != "unitOfMeasure" {
		t.Errorf("irregular plural unitsOfMeasure: %+v", k)
	}
	so, sol := c.Kind("salesOrders"), c.Kind("salesOrderLines")
	if p := so.Type.Property("salesOrderLines"); p == nil || p.Relationship != RelChild || !p.IsCollection ||
		p.ItemName != "salesOrderLine" || p.RelatedKind != sol || p.Complex != sol.Type {
		t.Errorf("salesOrder.salesOrderLines = %+v", p)
	}
	if p := sol.Type.Property("salesOrder"); p == nil || p.Relationship != RelParent || p.RelatedKind != so {
		t.Errorf("salesOrderLine.salesOrder = %+v", p)
	}
	if p := so.Type.Property("operatingCompanyCurrencyExchangeRateOperator"); p == nil || !slices.Equal(p.Enum, []string{"*", "/"}) {
		t.Errorf("rateOperator enum: %+v", p)
	}
	// Types from common.xsd (sc: prefix) are resolved.
	pa := ta.Type.Property("postalAddresses")
	if pa == nil || pa.Relationship != RelChild || !pa.IsCollection || pa.ItemName != "postalAddress" ||
		pa.Complex == nil || pa.Complex.Name != "postalAddress--type" || pa.RelatedKind != nil {
		t.Fatalf("tradingAccount.postalAddresses = %+v", pa)
	}
	if len(pa.Complex.Properties) < 5 {
		t.Errorf("postalAddress--type has %d properties", len(pa.Complex.Properties))
	}
	if p := ta.Type.Property("registeredAddress"); p == nil || p.Complex != pa.Complex || p.ItemName != "" {
		t.Errorf("registeredAddress = %+v", p)
	}
	// A choice of several documents stays the choice type.
	if p := so.Type.Property("originatorDocument"); p == nil || p.Complex == nil ||
		p.Complex.Name != "salesOrderOriginatorDocument--choice" || p.RelatedKind != nil || len(p.Complex.Properties) != 2 {
		t.Errorf("originatorDocument = %+v", p)
	}
	sync := c.SyncKinds()
	if len(sync) != 11 {
		t.Errorf("%d sync kinds, want 11", len(sync))
	}
	for i := 1; i < len(sync); i++ {
		if sync[i-1].SyncOrder > sync[i].SyncOrder {
			t.Errorf("SyncKinds out of order at %d: %s(%d) before %s(%d)", i, sync[i-1].Name, sync[i-1].SyncOrder, sync[i].Name, sync[i].SyncOrder)
		}
	}
}

func TestLoadFeatures(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "features", "main.xsd"), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "main" || len(c.Kinds) != 2 {
		t.Fatalf("name %q, %d kinds", c.Name, len(c.Kinds))
	}
	w, g := c.Kind("widgets"), c.Kind("gadgetry")
	if w == nil || g == nil || c.Kind("gadget") != g || c.Kind("addresses") != nil {
		t.Fatalf("kinds: %+v %+v", w, g)
	}
	if w.Label != "Widget" || !w.CanGet || w.CanPost || !w.CanPageIndex || !w.HasUUID || !w.IsSyncSource ||
		w.IsSyncTarget || w.SyncOrder != 20 || w.SyncConflictPriority != 3 {
		t.Errorf("widget = %+v", *w)
	}
	if got := c.SyncKinds(); len(got) != 2 || got[0] != g || got[1] != w {
		t.Errorf("SyncKinds order wrong")
	}
	var names []string
	for _, p := range w.Type.Properties {
		names = append(names, p.Name)
	}
	wantNames := "id created name colour size price opens born flag weight count optionA optionB helper address addresses parent origin gadget"
	if strings.Join(names, " ") != wantNames {
		t.Errorf("properties\n got %s\nwant %s", strings.Join(names, " "), wantNames)
	}
	checks := []struct {
		prop, xsd string
		kind      ValueKind
		enum      []string
		maxLen    int
	}{
		{"id", "long", KindInteger, nil, 0},
		{"created", "dateTime", KindDateTime, nil, 0},
		{"name", "normalizedString", KindString, nil, 8}, // chained restriction, length overrides maxLength
		{"colour", "string", KindString, []string{"red", "green & blue"}, 0},
		{"size", "int", KindInteger, []string{"1", "2"}, 0}, // anonymous simple type
		{"weight", "double", KindDecimal, nil, 0},           // from a group
		{"count", "nonNegativeInteger", KindInteger, nil, 0},
		{"helper", "string", KindString, nil, 0}, // element ref
	}
	for _, ck := range checks {
		p := w.Type.Property(ck.prop)
		if p == nil || p.XSDType != ck.xsd || p.Kind != ck.kind || !slices.Equal(p.Enum, ck.enum) || p.MaxLength != ck.maxLen {
			t.Errorf("%s = %+v", ck.prop, p)
		}
	}
	if p := w.Type.Property("helper"); p.MinOccurs != 0 || p.MaxOccurs != 3 {
		t.Errorf("helper occurs %d..%d", p.MinOccurs, p.MaxOccurs)
	}
	if p := w.Type.Property("id"); !p.IsReadOnly || p.MinOccurs != 1 {
		t.Errorf("id = %+v", p)
	}
	if p := w.Type.Property("name"); !p.IsMandatory || p.Label != "Widget Name" {
		t.Errorf("name = %+v", p)
	}
	addr := w.Type.Property("address")
	if addr.Complex == nil || addr.Complex.Name != "address--type" || addr.RelatedKind != nil {
		t.Errorf("address = %+v", addr)
	}
	if k := addr.Complex.Property("kind"); k == nil || !slices.Equal(k.Enum, []string{"red", "green & blue"}) {
		t.Errorf("imported type referring back by prefix: %+v", k)
	}
	if p := w.Type.Property("addresses"); p.Complex != addr.Complex || p.ItemName != "address" {
		t.Errorf("addresses = %+v", p)
	}
	if p := w.Type.Property("parent"); p.Complex != w.Type || p.RelatedKind != w {
		t.Errorf("parent = %+v", p)
	}
	if p := w.Type.Property("gadget"); p.Complex == nil || p.Complex.Name != "" || p.Complex.Property("serial") == nil {
		t.Errorf("gadget (anonymous type) = %+v", p)
	}
	if p := g.Type.Property("widgets"); p.Complex != w.Type || p.RelatedKind != w || p.ItemName != "widget" || !p.IsCollection {
		t.Errorf("gadget.widgets = %+v", p)
	}
}

const xsdHead = `<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:sme="http://schemas.sage.com/sdata/sme/2007" xmlns="urn:t" targetNamespace="urn:t">
`

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error
	}{
		{"unknown type", map[string]string{"c.xsd": xsdHead + `<xs:complexType name="t">
<xs:sequence>
<xs:element name="foo" type="bar"/>
</xs:sequence></xs:complexType></xs:schema>`}, []string{`c.xsd:5: element "foo": unknown type "bar"`}},
		{"unknown xs type", map[string]string{"c.xsd": xsdHead + `<xs:complexType name="t"><xs:all>
<xs:element name="foo" type="xs:bogus"/></xs:all></xs:complexType></xs:schema>`}, []string{`c.xsd:4:`, `unknown type "xs:bogus"`}},
		{"bad sme boolean", map[string]string{"c.xsd": xsdHead + `<xs:complexType name="t"/>
<xs:element name="k" type="t" sme:role="resourceKind" sme:canGet="yes"/></xs:schema>`}, []string{`c.xsd:4:`, `element "k"`, `sme:canGet="yes"`}},
		{"bad property boolean", map[string]string{"c.xsd": xsdHead + `<xs:complexType name="t"><xs:all>
<xs:element name="p" type="xs:string" sme:isUniqueKey="maybe"/></xs:all></xs:complexType></xs:schema>`}, []string{`c.xsd:4:`, `sme:isUniqueKey`}},
		{"bad syncOrder", map[string]string{"c.xsd": xsdHead + `<xs:complexType name="t"/>
<xs:element name="k" type="t" sme:role="resourceKind" sme:syncOrder="first"/></xs:schema>`}, []string{`c.xsd:4:`, `sme:syncOrder`}},
		{"bad relationship", map[string]string{"c.xsd": xsdHead + `<xs:complexType name="t"><xs:all>
<xs:element name="p" type="t" sme:relationship="friend"/></xs:all></xs:complexType></xs:schema>`}, []string{`c.xsd:4:`, `relationship "friend"`}},
		{"missing import", map[string]string{"c.xsd": xsdHead + `
<xs:import namespace="urn:x" schemaLocation="gone.xsd"/></xs:schema>`}, []string{`c.xsd:4:`, `import "gone.xsd"`}},
		{"escaping import", map[string]string{"c.xsd": xsdHead + `<xs:include schemaLocation="../up.xsd"/></xs:schema>`}, []string{`c.xsd:3:`, `leaves the file system`}},
		{"malformed XML", map[string]string{"c.xsd": xsdHead + `<xs:complexType name="t">
</xs:schema>`}, []string{`c.xsd:4: malformed XML`}},
		{"error in imported file", map[string]string{
			"c.xsd": xsdHead + `<xs:import namespace="urn:o" schemaLocation="sub/o.xsd"/></xs:schema>`,
			"sub/o.xsd": `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:o">
<xs:simpleType name="s"><xs:restriction base="nothing"/></xs:simpleType></xs:schema>`,
		}, []string{`sub/o.xsd:2:`, `unknown base type "nothing"`}},
		{"undeclared prefix", map[string]string{"c.xsd": xsdHead + `<xs:complexType name="t"><xs:all>
<xs:element name="p" type="q:x"/></xs:all></xs:complexType></xs:schema>`}, []string{`c.xsd:4:`, `undeclared namespace prefix "q"`}},
		{"simple kind type", map[string]string{"c.xsd": xsdHead + `
<xs:element name="k" type="xs:string" sme:role="resourceKind"/></xs:schema>`}, []string{`c.xsd:4:`, `needs a complex type`}},
		{"self-derived simple type", map[string]string{"c.xsd": xsdHead + `<xs:simpleType name="s">
<xs:restriction base="s"/></xs:simpleType></xs:schema>`}, []string{`c.xsd:3:`, `derives from itself`}},
		{"self-extending type", map[string]string{"c.xsd": xsdHead + `<xs:complexType name="t"><xs:complexContent>
<xs:extension base="t"/></xs:complexContent></xs:complexType></xs:schema>`}, []string{`c.xsd:4:`, `derives from itself`}},
		{"derivation cycle across namespaces", map[string]string{
			"c.xsd": xsdHead + `<xs:import namespace="urn:o" schemaLocation="o.xsd"/>
<xs:complexType name="t"><xs:complexContent><xs:extension xmlns:o="urn:o" base="o:t"/></xs:complexContent></xs:complexType></xs:schema>`,
			"o.xsd": `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:o" xmlns:t="urn:t">
<xs:import namespace="urn:t" schemaLocation="c.xsd"/>
<xs:complexType name="t"><xs:complexContent><xs:extension base="t:t"/></xs:complexContent></xs:complexType></xs:schema>`,
		}, []string{`o.xsd:3:`, `type "t:t" ({urn:t}t) derives from itself`}},
		{"group cycle across namespaces", map[string]string{
			"c.xsd": xsdHead + `<xs:import namespace="urn:o" schemaLocation="o.xsd"/>
<xs:group name="g"><xs:sequence><xs:group ref="o:g" xmlns:o="urn:o"/></xs:sequence></xs:group>
<xs:complexType name="t"><xs:group ref="g"/></xs:complexType></xs:schema>`,
			"o.xsd": `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:o" xmlns:t="urn:t">
<xs:import namespace="urn:t" schemaLocation="c.xsd"/>
<xs:group name="g"><xs:sequence><xs:group ref="t:g"/></xs:sequence></xs:group></xs:schema>`,
		}, []string{`o.xsd:3:`, `group "t:g" ({urn:t}g) refers to itself`}},
		{"bad maxOccurs", map[string]string{"c.xsd": xsdHead + `<xs:complexType name="t"><xs:sequence>
<xs:element name="p" type="xs:string" maxOccurs="lots"/></xs:sequence></xs:complexType></xs:schema>`}, []string{`c.xsd:4:`, `maxOccurs="lots"`}},
		{"bad maxLength", map[string]string{"c.xsd": xsdHead + `<xs:simpleType name="s"><xs:restriction base="xs:string">
<xs:maxLength value="-1"/></xs:restriction></xs:simpleType></xs:schema>`}, []string{`c.xsd:4:`, `maxLength`}},
		{"not a schema", map[string]string{"c.xsd": `<?xml version="1.0"?>
<root/>`}, []string{`c.xsd:2:`, `not xs:schema`}},
		{"missing file", map[string]string{}, []string{`c.xsd`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, body := range tt.files {
				fsys[name] = &fstest.MapFile{Data: []byte(body)}
			}
			c, err := LoadFS(fsys, "c.xsd", "")
			if err == nil {
				t.Fatalf("loaded %+v, want an error", c)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestLoadLenient checks that what does not matter for the model is skipped.
func TestLoadLenient(t *testing.T) {
	fsys := fstest.MapFS{"a.xsd": &fstest.MapFile{Data: []byte(`<?xml version="1.0"?>
<?xml-stylesheet type="text/xsl" href="x.xslt"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:sme="http://schemas.sage.com/sdata/sme/2007" targetNamespace="urn:a" xmlns:a="urn:a">
  <xs:include schemaLocation="b.xsd"/>
  <xs:import namespace="urn:remote" schemaLocation="http://example.com/remote.xsd"/>
  <xs:element name="thing" type="a:thing--type" sme:role="resourceKind" sme:unknownAttribute="whatever"/>
  <xs:complexType name="thing--type" mixed="true">
    <xs:annotation><xs:appinfo>ignored</xs:appinfo></xs:annotation>
    <xs:sequence>
      <xs:element name="x" type="a:code"/>
      <xs:any namespace="##other" processContents="lax" minOccurs="0"/>
      <xs:element name="untyped" minOccurs="0"/>
    </xs:sequence>
    <xs:attribute name="id" type="xs:string"/>
    <xs:anyAttribute/>
  </xs:complexType>
</xs:schema>`)},
		"b.xsd": &fstest.MapFile{Data: []byte(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:a">
  <xs:include schemaLocation="a.xsd"/>
  <xs:simpleType name="code"><xs:union memberTypes="xs:int xs:string"/></xs:simpleType>
</xs:schema>`)}}
	c, err := LoadFS(fsys, "a.xsd", "a")
	if err != nil {
		t.Fatal(err)
	}
	k := c.Kind("things")
	if k == nil || len(k.Type.Properties) != 2 || k.PluralName != "things" {
		t.Fatalf("kind = %+v", k)
	}
	if p := k.Type.Property("x"); p.Kind != KindString {
		t.Errorf("union type: %+v", p)
	}
	if p := k.Type.Property("untyped"); p.Kind != KindString || p.XSDType != "anyType" {
		t.Errorf("untyped element: %+v", p)
	}
}
