package sdata_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sdatasync/contracts"
)

// sharedFile returns the path of a file under ../shared (beside the module
// root), skipping the test when it is absent.
func sharedFile(t *testing.T, rel string) string {
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
	p := filepath.Join(dir, "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s absent: %v", p, err)
	}
	return p
}

// TestRealGCRMSalesOrdersEndToEnd serves the real GCRM contract and
// synchronizes sales orders with their lines and their trading account and
// commodity references between two providers.
func TestRealGCRMSalesOrdersEndToEnd(t *testing.T) {
	path := sharedFile(t, "sdata/contracts/crmErp.xsd")
	load := func() *contracts.Contract {
		c, err := contracts.Load(path, "crmErp")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := newProviderWith(t, 2, load()), newProviderWith(t, 6, load())
	const ns = `xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="http://schemas.sage.com/sdata/2008/1"`
	// B holds an unrelated account first, so keys differ between providers.
	b.create("tradingAccounts", `<tradingAccount `+ns+`><name>B only</name></tradingAccount>`)
	acc := a.create("tradingAccounts", `<tradingAccount `+ns+`><active>true</active><reference>GC1</reference><name>Real GCRM Ltd</name><currency>EUR</currency></tradingAccount>`)
	// GCRM commodities are read-only over HTTP and a sync source only: the
	// ERP side owns them. A's application creates one directly.
	comRes, err := a.Server.CreateLocal(context.Background(), "-", "commodities", mustParse(t, `<commodity `+ns+`><active>true</active><reference>C-1</reference><name>Widget</name><description>A widget</description></commodity>`), "erp")
	if err != nil {
		t.Fatal(err)
	}
	com := comRes.Key
	so := a.create("salesOrders", `<salesOrder `+ns+`><reference>GSO1</reference><tradingAccount sdata:key="`+acc+`"/><currency>EUR</currency><date>2026-11-01</date>`+
		`<salesOrderLines><salesOrderLine><number>1</number><type>Standard Line</type><commodity sdata:key="`+com+`"/><text>Widgets</text><quantity>4</quantity><initialPrice>2.5</initialPrice></salesOrderLine>`+
		`<salesOrderLine><number>2</number><type>Free Text</type><text>Delivery by Friday</text><quantity>0</quantity></salesOrderLine></salesOrderLines></salesOrder>`)
	for _, k := range []string{"tradingAccounts", "salesOrders"} {
		catchUp(t, a, b, k, 10, "gcrm")
		catchUp(t, b, a, k, 10, "gcrm")
	}
	for _, k := range []string{"tradingAccounts", "salesOrders"} {
		assertConverged(t, a, b, k)
	}
	// commodities are not a sync target in GCRM: B refuses them.
	st, _, body := do(t, "POST", b.kind("commodities")+"/$syncTarget", []byte(`<feed xmlns="http://www.w3.org/2005/Atom"/>`))
	mustStatus(t, 404, st, body)
	bSO := keyByName(t, b, "salesOrders", "GSO1")
	if ref := readRef(t, b, "salesOrders", "GSO1", "tradingAccount"); ref.key != keyByName(t, b, "tradingAccounts", "Real GCRM Ltd") {
		t.Fatalf("order's account reference at B: %+v", ref)
	}
	l := lines(t, b, bSO)
	if len(l) != 2 || uuidOf(l, "Widgets") == "" {
		t.Fatalf("lines at B: %v", l)
	}
	// The line's commodity reference resolves at A; at B it is kept by UUID
	// (B has no commodities), as it came.
	st, _, body = do(t, "GET", a.kind("salesOrders")+"('"+so+"')", nil)
	mustStatus(t, 200, st, body)
	if !strings.Contains(string(body), `sdata:url="`+a.kind("commodities")+`('`+com+`')"`) {
		t.Fatalf("the line's commodity reference does not resolve at A:\n%s", body)
	}
	st, _, body = do(t, "GET", b.kind("salesOrders")+"('"+bSO+"')", nil)
	mustStatus(t, 200, st, body)
	comNow, err := a.Store.Get(context.Background(), a.endpoint("commodities"), com)
	if err != nil || comNow.UUID == "" {
		t.Fatalf("the referenced commodity got no UUID: %+v %v", comNow, err)
	}
	if strings.Contains(string(body), b.kind("commodities")) || !strings.Contains(string(body), `<commodity sdata:uuid="`+comNow.UUID+`"/>`) {
		t.Fatalf("the line's commodity reference at B:\n%s", body)
	}
}
