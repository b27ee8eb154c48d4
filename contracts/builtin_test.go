package contracts

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestBuiltinNames(t *testing.T) {
	if got := BuiltinNames(); !slices.Equal(got, []string{"gcrm"}) {
		t.Fatalf("BuiltinNames() = %v, want [gcrm]", got)
	}
	if _, err := Builtin("nope"); err == nil {
		t.Fatal("Builtin(nope) succeeded")
	}
}

func TestBuiltinGCRM(t *testing.T) {
	c := mustBuiltin(t)
	if c.Name != "gcrm" || c.TargetNamespace != "http://schemas.sage.com/crmErp/2008" {
		t.Fatalf("name %q namespace %q", c.Name, c.TargetNamespace)
	}
	want := []struct {
		name, plural string
		order        int
	}{
		{"tradingAccount", "tradingAccounts", 50},
		{"contact", "contacts", 60},
		{"commodity", "commodities", 120},
		{"salesOrder", "salesOrders", 150},
		{"salesOrderLine", "salesOrderLines", 160},
	}
	if len(c.Kinds) != len(want) {
		t.Fatalf("%d kinds, want %d", len(c.Kinds), len(want))
	}
	sync := c.SyncKinds()
	for i, w := range want {
		k := c.Kind(w.plural)
		if k == nil || k.Name != w.name || k.PluralName != w.plural || k.SyncOrder != w.order {
			t.Fatalf("Kind(%q) = %+v", w.plural, k)
		}
		if c.Kind(w.name) != k || c.KindByElement(w.name) != k {
			t.Errorf("lookup by element name %q does not find the kind", w.name)
		}
		if c.KindByElement(w.plural) != nil && w.plural != w.name {
			t.Errorf("KindByElement(%q) found a kind by plural name", w.plural)
		}
		if !(k.CanGet && k.CanPost && k.CanPut && k.CanDelete && k.CanPageNext && k.CanPagePrevious &&
			k.CanPageIndex && k.HasUUID && k.IsSyncSource && k.IsSyncTarget) {
			t.Errorf("%s: not every flag set: %+v", w.name, *k)
		}
		if k.Namespace != c.TargetNamespace || k.Type == nil || k.Type.Name != w.name+"--type" {
			t.Errorf("%s: namespace %q type %v", w.name, k.Namespace, k.Type)
		}
		if sync[i] != k {
			t.Errorf("SyncKinds()[%d] = %s, want %s", i, sync[i].Name, w.name)
		}
	}
	if c.Kind("nothing") != nil || c.KindByElement("tradingAccounts") != nil {
		t.Error("unknown names must give nil")
	}

	ta, contact := c.Kind("tradingAccounts"), c.Kind("contacts")
	so, sol, com := c.Kind("salesOrders"), c.Kind("salesOrderLines"), c.Kind("commodities")

	p := contact.Type.Property("tradingAccount")
	if p == nil || p.Relationship != RelReference || p.IsCollection || p.Kind != KindComplex ||
		p.Complex != ta.Type || p.RelatedKind != ta || p.ItemName != "" {
		t.Errorf("contact.tradingAccount = %+v", p)
	}
	p = ta.Type.Property("invoiceTradingAccount")
	if p == nil || !p.Nillable || p.Relationship != RelReference || p.RelatedKind != ta {
		t.Errorf("tradingAccount.invoiceTradingAccount = %+v", p)
	}
	p = so.Type.Property("salesOrderLines")
	if p == nil || p.Relationship != RelChild || !p.IsCollection || p.ItemName != "salesOrderLine" ||
		p.Complex != sol.Type || p.RelatedKind != sol || p.MaxOccurs != 1 {
		t.Errorf("salesOrder.salesOrderLines = %+v", p)
	}
	p = sol.Type.Property("salesOrder")
	if p == nil || p.Relationship != RelParent || p.RelatedKind != so {
		t.Errorf("salesOrderLine.salesOrder = %+v", p)
	}
	if p = sol.Type.Property("commodity"); p == nil || p.RelatedKind != com {
		t.Errorf("salesOrderLine.commodity = %+v", p)
	}
	if p = ta.Type.Property("contacts"); p == nil || p.Relationship != RelAssociation || p.ItemName != "contact" || p.RelatedKind != contact {
		t.Errorf("tradingAccount.contacts = %+v", p)
	}

	simple := []struct {
		kind, prop, xsd string
		vk              ValueKind
	}{
		{"tradingAccounts", "active", "boolean", KindBoolean},
		{"tradingAccounts", "openedDate", "date", KindDate},
		{"tradingAccounts", "reference", "normalizedString", KindString},
		{"tradingAccounts", "financeLimit", "decimal", KindDecimal},
		{"salesOrders", "time", "time", KindTime},
		{"salesOrderLines", "number", "integer", KindInteger},
		{"salesOrderLines", "quantity", "decimal", KindDecimal},
		{"contacts", "dateOfBirth", "date", KindDate},
	}
	for _, s := range simple {
		p := c.Kind(s.kind).Type.Property(s.prop)
		if p == nil || p.XSDType != s.xsd || p.Kind != s.vk || p.Complex != nil || p.RelatedKind != nil {
			t.Errorf("%s.%s = %+v, want xs:%s", s.kind, s.prop, p, s.xsd)
		}
	}
	if p := ta.Type.Property("reference"); !p.IsUniqueKey || p.Nillable {
		t.Errorf("tradingAccount.reference = %+v", p)
	}
	if p := ta.Type.Property("name"); !p.IsMandatory {
		t.Errorf("tradingAccount.name not mandatory")
	}
	if p := ta.Type.Property("customerSupplierFlag"); !slices.Equal(p.Enum, []string{"Customer", "Supplier", "Both", "Neither", "Unknown"}) {
		t.Errorf("customerSupplierFlag enum %v", p.Enum)
	}
	if p := so.Type.Property("status"); len(p.Enum) != 8 || p.CheckValue("Cancelled") != nil || p.CheckValue("Gone") == nil {
		t.Errorf("salesOrder.status enum %v", p.Enum)
	}
	if ta.Type.Property("nothing") != nil {
		t.Error("unknown property must be nil")
	}
}

// TestBuiltinAgainstGCRM checks that the built-in is a subset of the real
// contract: every property exists there with the same kind (salesOrderLine.number
// is narrowed from decimal to integer on purpose).
func TestBuiltinAgainstGCRM(t *testing.T) {
	real := loadGCRM(t)
	for _, k := range mustBuiltin(t).Kinds {
		rk := real.KindByElement(k.Name)
		if rk == nil {
			t.Errorf("kind %s not in GCRM", k.Name)
			continue
		}
		if rk.PluralName != k.PluralName || rk.SyncOrder != k.SyncOrder {
			t.Errorf("kind %s: plural %q order %d, GCRM has %q %d", k.Name, k.PluralName, k.SyncOrder, rk.PluralName, rk.SyncOrder)
		}
		for _, p := range k.Type.Properties {
			rp := rk.Type.Property(p.Name)
			switch {
			case rp == nil:
				t.Errorf("%s.%s not in GCRM", k.Name, p.Name)
			case k.Name == "salesOrderLine" && p.Name == "number":
				if rp.Kind != KindDecimal || p.Kind != KindInteger {
					t.Errorf("%s.%s: kinds %v/%v", k.Name, p.Name, p.Kind, rp.Kind)
				}
			case rp.XSDType != p.XSDType || rp.Kind != p.Kind || rp.Relationship != p.Relationship ||
				rp.IsCollection != p.IsCollection || !slices.Equal(rp.Enum, p.Enum) || rp.ItemName != p.ItemName:
				t.Errorf("%s.%s differs from GCRM:\n ours %+v\n gcrm %+v", k.Name, p.Name, *p, *rp)
			case rp.Complex != nil && rp.Complex.Name != p.Complex.Name:
				t.Errorf("%s.%s: type %s, GCRM %s", k.Name, p.Name, p.Complex.Name, rp.Complex.Name)
			}
		}
	}
}

func TestOpen(t *testing.T) {
	c, err := Open("gcrm")
	if err != nil || c.Name != "gcrm" || len(c.Kinds) != 5 {
		t.Fatalf("Open(gcrm) = %v, %v", c, err)
	}
	p := filepath.Join("testdata", "features", "main.xsd")
	c, err = Open(p)
	if err != nil || c.Name != "main" || c.Kind("widgets") == nil {
		t.Fatalf("Open(%s) = %v, %v", p, c, err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.xsd")); err == nil {
		t.Fatal("Open of a missing file succeeded")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.xsd"), []byte("<oops"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(dir, "x.xsd")); err == nil {
		t.Fatal("Open of a malformed file succeeded")
	}
}

// TestPropertyIndex: the name index of every type of the built-in contract
// agrees with a search in document order, also from many goroutines at once.
func TestPropertyIndex(t *testing.T) {
	c, err := Builtin("gcrm")
	if err != nil {
		t.Fatal(err)
	}
	var types []*ComplexType
	for _, k := range c.Kinds {
		types = append(types, k.Type)
		for _, p := range k.Type.Properties {
			if p.Complex != nil {
				types = append(types, p.Complex)
			}
		}
	}
	check := func(ty *ComplexType) error {
		for i, p := range ty.Properties {
			want := i
			for j := range i {
				if ty.Properties[j].Name == p.Name {
					want = j
					break
				}
			}
			if got := ty.Index(p.Name); got != want {
				return fmt.Errorf("%s.Index(%q) = %d, want %d", ty.Name, p.Name, got, want)
			}
			if ty.Property(p.Name) != ty.Properties[want] {
				return fmt.Errorf("%s.Property(%q) is not the property at %d", ty.Name, p.Name, want)
			}
		}
		if ty.Index("noSuchProperty") != -1 || ty.Property("noSuchProperty") != nil {
			return fmt.Errorf("%s finds a property that does not exist", ty.Name)
		}
		return nil
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for _, ty := range types {
				if err := check(ty); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// A type built outside the loader has no index and is searched in order.
	bare := &ComplexType{Properties: []*Property{{Name: "a"}, {Name: "b"}}}
	if bare.Index("b") != 1 || bare.Index("c") != -1 {
		t.Fatal("unindexed type lookup")
	}
}
