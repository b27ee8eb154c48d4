package contracts

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sharedFile returns the path of a file under the shared reference folder
// (../shared next to the module root), skipping the test when it is absent.
func sharedFile(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("module root not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Skipf("reference file %s not available: %v", p, err)
	}
	return p
}

// loadGCRM loads the real GCRM contract, skipping when it is absent.
func loadGCRM(t testing.TB) *Contract {
	t.Helper()
	c, err := Load(sharedFile(t, "sdata/contracts/crmErp.xsd"), "gcrm-real")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustBuiltin(t testing.TB) *Contract {
	t.Helper()
	c, err := Builtin("gcrm")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// roundTrip renders with write and loads the result back.
func roundTrip(t *testing.T, write func(*bytes.Buffer) error) *Contract {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "rendered.xsd")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p, "")
	if err != nil {
		t.Fatalf("rendered schema does not load back: %v\n%s", err, buf.String())
	}
	return c
}

// compareKinds checks that every kind of want has an equivalent in got,
// recursively comparing the types they reach. partial allows relationships
// to point to kinds that got does not hold (single-kind schemas).
func compareKinds(t *testing.T, want, got *Contract, kinds []*ResourceKind, partial bool) {
	t.Helper()
	if got.TargetNamespace != want.TargetNamespace {
		t.Errorf("targetNamespace %q, want %q", got.TargetNamespace, want.TargetNamespace)
	}
	if len(got.Kinds) != len(kinds) {
		t.Fatalf("%d kinds, want %d", len(got.Kinds), len(kinds))
	}
	seen := map[*ComplexType]bool{}
	for i, wk := range kinds {
		gk := got.Kinds[i]
		a, b := *wk, *gk
		a.Type, b.Type = nil, nil
		if a != b {
			t.Errorf("kind %s:\n got %+v\nwant %+v", wk.Name, b, a)
		}
		// The kinds' own types are named first: they keep their names.
		if wk.Type != nil && gk.Type != nil && wk.Type.Name != gk.Type.Name {
			t.Errorf("kind %s: type %q, want %q", wk.Name, gk.Type.Name, wk.Type.Name)
		}
		compareTypes(t, wk.Name, wk.Type, gk.Type, got, partial, seen)
	}
}

func compareTypes(t *testing.T, where string, want, got *ComplexType, gotC *Contract, partial bool, seen map[*ComplexType]bool) {
	t.Helper()
	if want == nil || got == nil {
		if want != got {
			t.Errorf("%s: type %v, want %v", where, got, want)
		}
		return
	}
	if seen[want] {
		return
	}
	seen[want] = true
	if !sameTypeName(want.Name, got.Name) {
		t.Errorf("%s: type name %q, want %q", where, got.Name, want.Name)
	}
	if len(want.Properties) != len(got.Properties) {
		t.Errorf("%s (%s): %d properties, want %d", where, want.Name, len(got.Properties), len(want.Properties))
		return
	}
	for i, wp := range want.Properties {
		gp := got.Properties[i]
		at := where + "." + wp.Name
		if wp.Name != gp.Name || wp.Label != gp.Label || wp.XSDType != gp.XSDType || wp.Kind != gp.Kind ||
			!slices.Equal(wp.Enum, gp.Enum) || wp.MaxLength != gp.MaxLength || wp.Nillable != gp.Nillable ||
			wp.MinOccurs != gp.MinOccurs || wp.MaxOccurs != gp.MaxOccurs || wp.Relationship != gp.Relationship ||
			wp.IsCollection != gp.IsCollection || wp.IsUniqueKey != gp.IsUniqueKey || wp.IsMandatory != gp.IsMandatory ||
			wp.IsReadOnly != gp.IsReadOnly || wp.ItemName != gp.ItemName {
			t.Errorf("%s:\n got %+v\nwant %+v", at, *gp, *wp)
		}
		switch {
		case wp.RelatedKind == nil && gp.RelatedKind != nil:
			t.Errorf("%s: RelatedKind %s, want nil", at, gp.RelatedKind.Name)
		case wp.RelatedKind != nil && gp.RelatedKind == nil:
			if !partial || gotC.KindByElement(wp.RelatedKind.Name) != nil {
				t.Errorf("%s: RelatedKind nil, want %s", at, wp.RelatedKind.Name)
			}
		case wp.RelatedKind != nil && wp.RelatedKind.Name != gp.RelatedKind.Name:
			t.Errorf("%s: RelatedKind %s, want %s", at, gp.RelatedKind.Name, wp.RelatedKind.Name)
		}
		compareTypes(t, at, wp.Complex, gp.Complex, gotC, partial, seen)
	}
}

// sameTypeName reports whether got is the rendered name of a type called
// want: WriteSchema renders every type in the contract's namespace, so a
// type whose local name another type (of another namespace) took first is
// renamed want-2, want-3, ...
func sameTypeName(want, got string) bool {
	if got == want {
		return true
	}
	suffix, ok := strings.CutPrefix(got, want+"-")
	n, err := strconv.Atoi(suffix)
	return ok && err == nil && n >= 2 && strconv.Itoa(n) == suffix
}
