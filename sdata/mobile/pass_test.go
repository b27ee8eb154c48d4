package mobile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"sdatasync/sdata/engine"
	"sdatasync/sdata/mobile"
	"sdatasync/sdata/sdatatest"
	"sdatasync/sdata/store"
)

// phone is a device speaking the synchronize service over HTTP to a
// provider without authentication.
type phone struct {
	t       *testing.T
	p       *sdatatest.Provider
	alias   string
	id      string
	version string
	rows    map[string]map[string]any
}

func newPhone(t *testing.T, p *sdatatest.Provider, alias, id string) *phone {
	return &phone{t: t, p: p, alias: alias, id: id, rows: map[string]map[string]any{}}
}

// sync sends rows (JSON inputPayload items) and applies the answer.
func (ph *phone) sync(rows ...string) jsonAnswer {
	ph.t.Helper()
	a := call(ph.t, ph.p, http.MethodPost, syncPath, "", "application/json", []byte(syncBody(ph.alias, ph.version, strings.Join(rows, ","))),
		"X-Mobile-App-Name", "sales", "X-Mobile-App-Version", "1.0", "X-Mobile-Device-ID", ph.id)
	ja := a.json(ph.t)
	if a.status != 200 || ja.OutputParams.StatusCode != "40" {
		ph.t.Fatalf("sync: %d %s", a.status, a.body)
	}
	for _, o := range ja.OutputPayload {
		if o.RowStatus == "1" || o.RowStatus == "3" {
			continue
		}
		if o.ActionID == "1" {
			delete(ph.rows, o.UID)
		} else {
			ph.rows[o.UID] = o.MDataRow
		}
	}
	ph.version = ja.OutputParams.CurrentVersion
	if ja.OutputParams.HasMore == "true" {
		ph.sync()
	}
	return ja
}

// account returns the stored trading account with reference ref at p.
func account(t *testing.T, p *sdatatest.Provider, ref string) store.Resource {
	t.Helper()
	ep, _ := p.Server.Endpoint("-", "tradingAccounts")
	list, _, err := p.Store.List(context.Background(), ep, store.ListQuery{IncludeDeleted: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list {
		var props map[string]any
		json.Unmarshal(r.Props, &props)
		if props["reference"] == ref {
			return r
		}
	}
	t.Fatalf("no account %s at %s", ref, p.URL)
	return store.Resource{}
}

func field(t *testing.T, r store.Resource, name string) string {
	t.Helper()
	var props map[string]any
	json.Unmarshal(r.Props, &props)
	s, _ := props[name].(string)
	return s
}

// edit changes fields of an account at p through a PUT (a local write there).
func edit(t *testing.T, p *sdatatest.Provider, ref string, fields ...string) {
	t.Helper()
	el := etree.NewElement("tradingAccount")
	el.CreateAttr("xmlns", p.Config.Contract.TargetNamespace)
	for i := 0; i+1 < len(fields); i += 2 {
		el.CreateElement(fields[i]).SetText(fields[i+1])
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	b, _ := doc.WriteToBytes()
	a := call(t, p, http.MethodPut, strings.TrimPrefix(p.ResourceURL("tradingAccounts", account(t, p, ref).Key), p.URL), "", "application/xml", b)
	if a.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", a.status, a.body)
	}
}

func pass(t *testing.T, from, to *sdatatest.Provider) {
	t.Helper()
	e := &engine.Engine{Client: from.HTTP.Client()}
	sum, err := e.Pass(context.Background(), engine.PassOptions{Source: from.KindURL("tradingAccounts"), Target: to.KindURL("tradingAccounts"), Both: true})
	if err != nil || !sum.OK {
		t.Fatalf("pass: %+v %v", sum, err)
	}
}

// TestDeviceEditsTravelBySDataPass: an edit made in the ERP (a second
// provider) reaches the device through an SData pass and its next sync; a
// device edit reaches the ERP by the next pass; an edit made on both sides
// between two syncs is decided by the component's rule, and after the
// next pass both providers and the device agree.
func TestDeviceEditsTravelBySDataPass(t *testing.T) {
	cases := []struct {
		rule, fallback string
		sbd            bool
		wantName       string // the name both sides changed
		wantWebsite    string // only the device changed it
	}{
		{"serverWins", "", false, "erp", ""},
		{"clientWins", "", true, "phone", "phone.example"},
		{"merge", "serverWins", true, "erp", "phone.example"},
		{"merge", "clientWins", true, "phone", "phone.example"},
	}
	for _, tc := range cases {
		t.Run(tc.rule+tc.fallback, func(t *testing.T) {
			mob, erp := sdatatest.Start(t, sdatatest.Options{}), sdatatest.Start(t, sdatatest.Options{})
			comp := mobile.Component{Alias: "acc", Kind: "tradingAccounts", RowIdentifiers: []string{"reference"}, FilterKeys: []string{"currency"},
				ConflictRule: tc.rule, MergeFallback: tc.fallback, StoreBusinessData: tc.sbd, Apps: []mobile.App{{Name: "sales", Versions: []string{"*"}}}}
			if _, _, err := mob.Server.Mobile().PutComponent(context.Background(), comp); err != nil {
				t.Fatal(err)
			}
			// The ERP creates an account; a pass brings it to the mobile
			// provider; the phone downloads it.
			a := call(t, erp, http.MethodPost, strings.TrimPrefix(erp.KindURL("tradingAccounts"), erp.URL), "", "application/xml",
				[]byte(`<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008"><reference>K1</reference><name>original</name><currency>EUR</currency></tradingAccount>`))
			if a.status != http.StatusCreated {
				t.Fatalf("create at the ERP: %d %s", a.status, a.body)
			}
			pass(t, erp, mob)
			ph := newPhone(t, mob, "acc", "phone-1")
			ph.sync()
			if ph.rows["K1"]["name"] != "original" {
				t.Fatalf("the phone lacks the ERP's account: %v", ph.rows)
			}
			// The phone inserts an account; the pass takes it to the ERP.
			ph.sync(acct("0", "", "P1", "from the phone"))
			pass(t, mob, erp)
			if r := account(t, erp, "P1"); field(t, r, "name") != "from the phone" || r.State.User != "anonymous" {
				t.Fatalf("at the ERP: %+v", r)
			}
			// The ERP edits K1 and the phone edits it too before its next sync.
			edit(t, erp, "K1", "name", "erp")
			pass(t, erp, mob)
			ja := ph.sync(`{"mDataRow": {"reference": "K1", "name": "phone", "currency": "EUR", "website": "phone.example"}, "uid": "K1", "actionId": "2"}`)
			if len(ja.OutputPayload) == 0 || ja.OutputPayload[0].RowStatus != "2" {
				t.Fatalf("the concurrent edit was not a resolved conflict: %+v", ja)
			}
			pass(t, mob, erp)
			ph.sync()
			for _, p := range []*sdatatest.Provider{mob, erp} {
				r := account(t, p, "K1")
				if field(t, r, "name") != tc.wantName || field(t, r, "website") != tc.wantWebsite {
					t.Fatalf("at %s: name %q website %q, want %q %q", p.URL, field(t, r, "name"), field(t, r, "website"), tc.wantName, tc.wantWebsite)
				}
			}
			if got := fmt.Sprint(ph.rows["K1"]["name"], ph.rows["K1"]["website"]); got != fmt.Sprint(tc.wantName, orNil(tc.wantWebsite)) {
				t.Fatalf("the phone holds %v", ph.rows["K1"])
			}
			// The losing version is in the audit log.
			recs, _, _ := mob.Store.AuditLog(context.Background(), store.AuditQuery{Operation: "mobile.sync"})
			found := false
			for _, r := range recs {
				found = found || strings.Contains(r.Detail, `"conflicts"`) && strings.Contains(r.Detail, `"lost"`)
			}
			if !found && tc.rule != "merge" {
				t.Fatal("no audit record of the losing version")
			}
		})
	}
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}
