package engine_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/sdata"
	"sdatasync/sdata/engine"
	"sdatasync/sdata/sdatatest"
)

// sharedContract returns the path of one of Sage's published contracts
// under ../shared (beside the module root), skipping the test when absent.
func sharedContract(t testing.TB, file string) string {
	t.Helper()
	return sdatatest.Shared(t, "sdata", "contracts", file)
}

// sampleValue is a value of the simple property p that its type accepts.
func sampleValue(p *contracts.Property, marker string) string {
	if len(p.Enum) > 0 {
		return p.Enum[0]
	}
	switch p.Kind {
	case contracts.KindInteger:
		return "1"
	case contracts.KindDecimal:
		return "1.5"
	case contracts.KindBoolean:
		return "true"
	case contracts.KindDate:
		return "2026-01-02"
	case contracts.KindDateTime:
		return "2026-01-02T03:04:05Z"
	case contracts.KindTime:
		return "03:04:05"
	}
	return marker
}

// minimalPayload builds the smallest valid payload of kind k from the
// contract model: every required property (minOccurs > 0, not nillable,
// not a relationship), nested structures filled the same way, and marker in
// the first free-text property so that the resource can be found again.
func minimalPayload(t testing.TB, c *contracts.Contract, k *contracts.ResourceKind, marker string) *etree.Element {
	t.Helper()
	el := etree.NewElement(k.Name)
	el.CreateAttr("xmlns", c.TargetNamespace)
	marked := false
	var fill func(el *etree.Element, ty *contracts.ComplexType, depth int)
	fill = func(el *etree.Element, ty *contracts.ComplexType, depth int) {
		for _, p := range ty.Properties {
			required := p.MinOccurs > 0 && !p.Nillable && p.Relationship == contracts.RelNone
			free := !marked && depth == 0 && p.Kind == contracts.KindString && p.Enum == nil &&
				(p.MaxLength == 0 || p.MaxLength >= len(marker)) && p.Relationship == contracts.RelNone
			switch {
			case free:
				el.CreateElement(p.Name).SetText(marker)
				marked = true
			case !required:
			case p.Kind != contracts.KindComplex:
				el.CreateElement(p.Name).SetText(sampleValue(p, "x"))
			case depth < 4:
				fill(el.CreateElement(p.Name), p.Complex, depth+1)
			default:
				t.Fatalf("%s: required structures nested too deep at %s", k.Name, p.Name)
			}
		}
	}
	fill(el, k.Type, 0)
	if !marked {
		t.Fatalf("%s has no free-text property to carry a marker", k.Name)
	}
	return el
}

// render writes a payload element as a document.
func render(t testing.TB, el *etree.Element) string {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el)
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// realSync are Sage's published contracts that declare no kind
// sme:isSyncSource or sme:isSyncTarget, with two kinds of each to
// synchronize: a referrer whose property ref refers to a kind of its own
// contract.
var realSync = []struct {
	file                           string
	kinds                          int
	referrer, ref                  string // plural name, property
	referred                       string // plural name
	referrerMarker, referredMarker string
}{
	// position.workplace is hrmErp:workplace--type, which famErp:workplace--type extends.
	{"hrmErp.xsd", 44, "positions", "workplace", "workplaces", "HRM-position", "HRM-workplace"},
	// famErp imports hrmErp, which imports famErp back.
	{"famErp.xsd", 12, "fixedAssets", "lease", "leases", "FAM-asset", "FAM-lease"},
}

// TestRealContractsSync serves Sage's published HRM and FAM contracts
// (hrmErp.xsd and famErp.xsd import each other, and common.xsd and
// crmErp.xsd) from two providers each, creates two resources at A over
// HTTP, one referring to the other, and runs a pass to B. The engine plans
// the pass from both providers' $schema, so the rendered schema must load
// too.
func TestRealContractsSync(t *testing.T) {
	for _, rc := range realSync {
		t.Run(rc.file, func(t *testing.T) {
			path := sharedContract(t, rc.file)
			kinds := []string{rc.referrer, rc.referred}
			// start serves the contract with sync enabled on the kinds
			// named: the published contract marks none, a deployment's copy
			// of it would.
			start := func(enabled ...string) *node {
				c, err := contracts.Load(path, "")
				if err != nil {
					t.Fatal(err)
				}
				if len(c.Kinds) != rc.kinds {
					t.Fatalf("%s: %d kinds, want %d", rc.file, len(c.Kinds), rc.kinds)
				}
				for _, name := range enabled {
					k := c.Kind(name)
					k.IsSyncSource, k.IsSyncTarget = true, true
				}
				n := &node{t: t, ctx: context.Background()}
				n.Provider = sdatatest.Start(t, sdatatest.Options{Config: func(cfg *sdata.Config) { cfg.Contract = c }})
				return n
			}
			e := newEngine(t)

			t.Run("as published", func(t *testing.T) {
				a, b := start(), start()
				_, err := e.Pass(context.Background(), engine.PassOptions{Source: a.DatasetURL(), Target: b.DatasetURL()})
				if !errors.Is(err, engine.ErrBadOptions) || !strings.Contains(err.Error(), "no resource kind is a sync source") {
					t.Fatalf("pass over the published contract: %v, want no kind to synchronize", err)
				}
			})

			t.Run("sync enabled", func(t *testing.T) {
				a, b := start(kinds...), start(kinds...)
				c := a.Config.Contract
				for _, kind := range kinds {
					if k := c.Kind(kind); !k.IsSyncSource || !k.IsSyncTarget {
						t.Fatalf("%s does not synchronize at A (a child kind?)", kind)
					}
				}
				if p := c.Kind(rc.referrer).Type.Property(rc.ref); p == nil || p.RelatedKind != c.Kind(rc.referred) {
					t.Fatalf("%s.%s does not relate to %s: %+v", rc.referrer, rc.ref, rc.referred, p)
				}
				// B holds a resource of its own first, so keys differ between providers.
				b.do(http.MethodPost, b.KindURL(rc.referred), render(t, minimalPayload(t, c, c.Kind(rc.referred), "B only")), http.StatusCreated)
				a.do(http.MethodPost, a.KindURL(rc.referred), render(t, minimalPayload(t, c, c.Kind(rc.referred), rc.referredMarker)), http.StatusCreated)
				refKey := a.all(rc.referred)[0].Key
				el := minimalPayload(t, c, c.Kind(rc.referrer), rc.referrerMarker)
				el.CreateAttr("xmlns:sdata", sdataNS)
				el.CreateElement(rc.ref).CreateAttr("sdata:key", refKey)
				a.do(http.MethodPost, a.KindURL(rc.referrer), render(t, el), http.StatusCreated)

				sum := pass(t, e, engine.PassOptions{Source: a.DatasetURL(), Target: b.DatasetURL(), RunName: "real"})
				if !sum.OK || len(sum.Kinds) != len(kinds) {
					t.Fatalf("summary %+v, want one OK pass per kind", sum)
				}
				keys := map[string]string{} // kind -> key at B
				for _, kind := range kinds {
					if ks := kindSum(t, sum, a.URL, kind); ks.Selected != 1 || ks.Applied != 1 || !ks.OK() {
						t.Errorf("%s: %+v, want one resource applied", kind, ks)
					}
					ra := a.all(kind)
					if len(ra) != 1 || ra[0].UUID == "" {
						t.Fatalf("%s: A holds %d resources, want one with a UUID", kind, len(ra))
					}
					keys[kind] = b.byUUID(kind, ra[0].UUID).Key
				}
				if keys[rc.referred] == refKey {
					t.Fatalf("%s key %s is the same at A and B; the reference check below proves nothing", rc.referred, refKey)
				}
				doc := etree.NewDocument()
				if err := doc.ReadFromString(get(t, b, b.ResourceURL(rc.referrer, keys[rc.referrer]))); err != nil {
					t.Fatal(err)
				}
				got := doc.FindElements("//" + c.Kind(rc.referrer).Name)
				if len(got) != 1 {
					t.Fatalf("%s at B: %d payload elements", rc.referrer, len(got))
				}
				if !hasText(got[0], rc.referrerMarker) {
					t.Errorf("%s at B lacks its marker: %s", rc.referrer, render(t, got[0].Copy()))
				}
				if r := got[0].FindElement(rc.ref); r == nil || r.SelectAttrValue("sdata:key", "") != keys[rc.referred] {
					t.Errorf("%s at B does not refer to B's %s %s: %v", rc.referrer, rc.referred, keys[rc.referred], r)
				}
			})
		})
	}
}

// TestRealContractsServed serves each of Sage's published contracts and
// reads every kind's feed (sme:canGet) and the contract's $schema, which must load back
// with the same kinds and properties.
func TestRealContractsServed(t *testing.T) {
	for _, file := range []string{"crmErp.xsd", "hrmErp.xsd", "famErp.xsd"} {
		t.Run(file, func(t *testing.T) {
			c, err := contracts.Load(sharedContract(t, file), "")
			if err != nil {
				t.Fatal(err)
			}
			p := sdatatest.Start(t, sdatatest.Options{Config: func(cfg *sdata.Config) { cfg.Contract = c }})
			n := &node{Provider: p, t: t, ctx: context.Background()}
			for _, k := range c.Kinds {
				want := http.StatusOK
				if !k.CanGet {
					want = http.StatusMethodNotAllowed
				}
				n.do(http.MethodGet, p.KindURL(k.PluralName)+"?count=1", "", want)
			}
			back, err := contracts.LoadFS(fstest.MapFS{"s.xsd": {Data: []byte(get(t, n, p.ContractURL()+"/$schema"))}}, "s.xsd", c.Name)
			if err != nil {
				t.Fatalf("$schema does not load back: %v", err)
			}
			if len(back.Kinds) != len(c.Kinds) || back.TargetNamespace != c.TargetNamespace {
				t.Fatalf("$schema: %d kinds in %s, want %d in %s", len(back.Kinds), back.TargetNamespace, len(c.Kinds), c.TargetNamespace)
			}
			for i, k := range c.Kinds {
				bk := back.Kinds[i]
				if bk.Name != k.Name || bk.PluralName != k.PluralName || propList(bk.Type) != propList(k.Type) {
					t.Errorf("$schema kind %s (%s): %s\nwant %s (%s): %s", bk.Name, bk.PluralName, propList(bk.Type), k.Name, k.PluralName, propList(k.Type))
				}
			}
		})
	}
}

// propList lists a type's property names and kinds.
func propList(t *contracts.ComplexType) string {
	var b strings.Builder
	for _, p := range t.Properties {
		b.WriteString(p.Name + ":" + p.Kind.String() + " ")
	}
	return b.String()
}

// hasText reports whether a child element of el holds exactly text.
func hasText(el *etree.Element, text string) bool {
	for _, c := range el.ChildElements() {
		if c.Text() == text {
			return true
		}
	}
	return false
}

// sdataNS is the SData namespace (sdata:key, sdata:uuid).
const sdataNS = "http://schemas.sage.com/sdata/2008/1"

// get reads u from the node over HTTP and returns the 200 body.
func get(t testing.TB, n *node, u string) string {
	t.Helper()
	res, err := n.HTTP.Client().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, res.StatusCode, b)
	}
	return string(b)
}
