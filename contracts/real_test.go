package contracts

import (
	"testing"
)

// realContracts are the contracts Sage published with the GCRM one, each
// with common.xsd; hrmErp.xsd and famErp.xsd import each other.
var realContracts = []struct {
	file      string
	ns        string
	kinds     int // global elements with sme:role="resourceKind" in the file
	syncKinds int // of which sme:isSyncSource or sme:isSyncTarget
}{
	{"crmErp.xsd", "http://schemas.sage.com/crmErp/2008", 52, 11},
	{"hrmErp.xsd", "http://schemas.sage.com/hrmErp/2009", 44, 0},
	{"famErp.xsd", "http://schemas.sage.com/famErp/2009", 12, 0},
}

// loadReal loads one of Sage's published contracts, skipping when absent.
func loadReal(t testing.TB, file string) *Contract {
	t.Helper()
	c, err := Load(sharedFile(t, "sdata/contracts/"+file), "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRealContracts(t *testing.T) {
	for _, rc := range realContracts {
		t.Run(rc.file, func(t *testing.T) {
			c := loadReal(t, rc.file)
			if c.TargetNamespace != rc.ns || len(c.Kinds) != rc.kinds || len(c.SyncKinds()) != rc.syncKinds {
				t.Fatalf("namespace %q, %d kinds, %d sync kinds; want %q, %d, %d",
					c.TargetNamespace, len(c.Kinds), len(c.SyncKinds()), rc.ns, rc.kinds, rc.syncKinds)
			}
			for _, k := range c.Kinds {
				if k.Namespace != rc.ns || k.Type == nil || len(k.Type.Properties) == 0 {
					t.Fatalf("kind %s: namespace %q, type %+v", k.Name, k.Namespace, k.Type)
				}
				if c.Kind(k.PluralName) != k {
					t.Errorf("kind %s is not found by its plural %s", k.Name, k.PluralName)
				}
			}
		})
	}
}

// TestRealHRMAndFAM checks what the two cross-importing contracts share:
// famErp's workplace, employee and vehicle kinds extend hrmErp's types of
// the same local name.
func TestRealHRMAndFAM(t *testing.T) {
	hrm, fam := loadReal(t, "hrmErp.xsd"), loadReal(t, "famErp.xsd")
	for _, plural := range []string{"workplaces", "employees", "vehicles"} {
		h, f := hrm.Kind(plural), fam.Kind(plural)
		if h == nil || f == nil {
			t.Fatalf("%s: hrm %v fam %v", plural, h, f)
		}
		if got, want := propNames(f.Type), propNames(h.Type); got != want {
			t.Errorf("famErp %s properties\n got %s\nwant %s (hrmErp's)", plural, got, want)
		}
		if f.Type.Name != h.Type.Name || f.CanPost || !h.CanPost {
			t.Errorf("%s: fam type %q canPost %v, hrm type %q canPost %v", plural, f.Type.Name, f.CanPost, h.Type.Name, h.CanPost)
		}
	}
	// hrmErp.xsd writes sme:isUniqueKey="True" twice.
	for _, plural := range []string{"payrollGroups", "trainingGroups"} {
		if p := hrm.Kind(plural).Type.Property("reference"); p == nil || !p.IsUniqueKey {
			t.Errorf("%s.reference: %+v", plural, p)
		}
	}
	// A reference to a type of another contract's namespace relates to no kind.
	if p := fam.Kind("leases").Type.Property("tradingAccount"); p == nil || p.Complex == nil ||
		p.Complex.Name != "tradingAccount--type" || p.RelatedKind != nil {
		t.Errorf("lease.tradingAccount (crmErp:tradingAccount--type) = %+v", p)
	}
}

// TestRoundTripRealContracts renders each real contract and each of its
// kinds as $schema does and loads the result back.
func TestRoundTripRealContracts(t *testing.T) {
	for _, rc := range realContracts {
		t.Run(rc.file, func(t *testing.T) { testRoundTrip(t, loadReal(t, rc.file)) })
	}
}
