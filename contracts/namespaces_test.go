package contracts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// crossNS is the folder of the hand-written cross-namespace contracts
// (module-root testdata): hr.xsd and fa.xsd import each other, both import
// base.xsd, and fa:workplace--type extends hr:workplace--type, which reaches
// fa:workplace--type through its properties.
var crossNS = filepath.Join("..", "testdata", "contracts")

// propNames lists a type's property names, space separated.
func propNames(t *ComplexType) string {
	var names []string
	for _, p := range t.Properties {
		names = append(names, p.Name)
	}
	return strings.Join(names, " ")
}

// TestLoadCrossNamespace loads each side of the import cycle as the
// contract and checks that types of the same local name in different
// namespaces stay distinct, and that the extension inherits its base.
func TestLoadCrossNamespace(t *testing.T) {
	const hrProps = "reference name address assets employees"
	tests := []struct {
		file, ns string
		kinds    string // element names in document order
		check    func(t *testing.T, c *Contract)
	}{
		{"hr.xsd", "urn:test:hr", "workplace employee", func(t *testing.T, c *Contract) {
			w, e := c.Kind("workplaces"), c.Kind("employees")
			if got := propNames(w.Type); got != hrProps {
				t.Errorf("hr workplace properties %q, want %q", got, hrProps)
			}
			if p := e.Type.Property("number"); !p.IsUniqueKey {
				t.Errorf(`sme:isUniqueKey="True" (as Sage's hrmErp.xsd writes it): %+v`, p)
			}
			if p := w.Type.Property("name"); p.MaxLength != 40 || p.XSDType != "string" {
				t.Errorf("name from base.xsd: %+v", p)
			}
			assets := w.Type.Property("assets")
			if assets.Complex == nil || assets.Complex.Name != "asset--type" || assets.ItemName != "asset" || assets.RelatedKind != nil {
				t.Fatalf("assets = %+v (fa:asset is no kind of the hr contract)", assets)
			}
			faW := assets.Complex.Property("workplace")
			if faW == nil || faW.Complex == nil || faW.Complex == w.Type || faW.Complex.Name != "workplace--type" {
				t.Fatalf("asset.workplace must be fa:workplace--type, not hr's: %+v", faW)
			}
			if faW.RelatedKind != nil {
				t.Errorf("asset.workplace relates to kind %s; fa:workplace is no kind of the hr contract", faW.RelatedKind.Name)
			}
			if got, want := propNames(faW.Complex), hrProps+" assetCount"; got != want {
				t.Errorf("fa workplace properties %q, want %q", got, want)
			}
			if faW.Complex.Properties[0] != w.Type.Properties[0] {
				t.Error("fa:workplace--type does not inherit hr:workplace--type's declarations")
			}
			emps := w.Type.Property("employees")
			if emps.RelatedKind != e || emps.ItemName != "employee" || emps.Complex != e.Type {
				t.Errorf("employees = %+v", emps)
			}
			if p := e.Type.Property("workplace"); p.Complex != w.Type || p.RelatedKind != w {
				t.Errorf("employee.workplace (hr:workplace--type by prefix) = %+v", p)
			}
		}},
		{"fa.xsd", "urn:test:fa", "asset workplace", func(t *testing.T, c *Contract) {
			a, w := c.Kind("assets"), c.Kind("workplaces")
			if w.Namespace != "urn:test:fa" || w.Type.Name != "workplace--type" {
				t.Errorf("workplace kind %+v", w)
			}
			if got, want := propNames(w.Type), hrProps+" assetCount"; got != want {
				t.Errorf("fa workplace properties %q, want %q", got, want)
			}
			if p := a.Type.Property("workplace"); p.Complex != w.Type || p.RelatedKind != w {
				t.Errorf("asset.workplace = %+v", p)
			}
			if p := w.Type.Property("assets"); p.Complex != a.Type || p.RelatedKind != a {
				t.Errorf("workplace.assets (inherited, fa:asset--list by prefix) = %+v", p)
			}
			emps := w.Type.Property("employees")
			if emps.Complex == nil || emps.Complex.Name != "employee--type" || emps.RelatedKind != nil {
				t.Fatalf("employees = %+v (hr:employee is no kind of the fa contract)", emps)
			}
			hrW := emps.Complex.Property("workplace").Complex
			if hrW == nil || hrW == w.Type || propNames(hrW) != hrProps {
				t.Errorf("employee.workplace must be hr:workplace--type: %+v", hrW)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := Load(filepath.Join(crossNS, tt.file), "")
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, k := range c.Kinds {
				kinds = append(kinds, k.Name)
			}
			if c.TargetNamespace != tt.ns || strings.Join(kinds, " ") != tt.kinds {
				t.Fatalf("namespace %q kinds %v, want %q %q", c.TargetNamespace, kinds, tt.ns, tt.kinds)
			}
			tt.check(t, c)
			testRoundTrip(t, c)
		})
	}
}

// TestLoadImportCycleOnce checks that each document of the cycle is read
// and registered once, whichever file is the contract.
func TestLoadImportCycleOnce(t *testing.T) {
	for _, root := range []string{"hr.xsd", "fa.xsd", "base.xsd"} {
		t.Run(root, func(t *testing.T) {
			reads := map[string]int{}
			l := newLoader(func(p string) ([]byte, error) {
				reads[filepath.Base(p)]++
				return os.ReadFile(p)
			}, func(base, loc string) (string, error) {
				return filepath.Join(filepath.Dir(base), loc), nil
			})
			if _, err := l.load(filepath.Join(crossNS, root), ""); err != nil {
				t.Fatal(err)
			}
			want := 3
			if root == "base.xsd" {
				want = 1
			}
			if len(l.docs) != want || len(reads) != want {
				t.Errorf("%d documents from %d files, want %d", len(l.docs), len(reads), want)
			}
			for f, n := range reads {
				if n != 1 {
					t.Errorf("%s read %d times", f, n)
				}
			}
		})
	}
}
