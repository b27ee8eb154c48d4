package auth

import "testing"

func TestCan(t *testing.T) {
	p := &Principal{Name: "ann", Grants: []Grant{{"-", Writer}, {"acme", Sync}, {AnyDataset, Auditor}}}
	admin := &Principal{Name: "root", Grants: []Grant{{AnyDataset, Admin}}}
	dsAdmin := &Principal{Name: "ds", Grants: []Grant{{"-", Admin}}}
	for _, tc := range []struct {
		p       *Principal
		dataset string
		need    Role
		want    bool
	}{
		{p, "-", Reader, true},
		{p, "-", Writer, true},
		{p, "-", Sync, false},
		{p, "acme", Sync, true},
		{p, "acme", Reader, false},
		{p, "other", Auditor, true},
		{p, "", Writer, true},
		{p, "", Admin, false},
		{p, "-", Public, true},
		{nil, "-", Public, true},
		{p, "-", "", false},
		{nil, "-", Reader, false},
		{admin, "x", Device, true},
		{admin, "", Writer, true},
		{dsAdmin, "-", Sync, true},
		{dsAdmin, "acme", Reader, false},
	} {
		if got := tc.p.Can(tc.dataset, tc.need); got != tc.want {
			t.Errorf("%v.Can(%q, %q) = %v", tc.p, tc.dataset, tc.need, got)
		}
	}
	if !admin.IsAdmin() || dsAdmin.IsAdmin() || p.IsAdmin() {
		t.Error("IsAdmin")
	}
}

func TestSpeaksFor(t *testing.T) {
	p := &Principal{Endpoints: []string{"http://erp.example.com/sdata/erp", "https://crm.example.com/"}}
	for u, want := range map[string]bool{
		"http://erp.example.com/sdata/erp":                    true,
		"http://erp.example.com/sdata/erp/gcrm/-/contacts":    true,
		"http://erp.example.com/sdata/erpx/gcrm/-/contacts":   false,
		"https://crm.example.com/sdata/crm/gcrm/-/contacts":   true,
		"http://crm.example.com/sdata/crm/gcrm/-/contacts":    false,
		"http://evil.example/sdata/erp.example.com/sdata/erp": false,
		"http://erp.example.com/sdata/erp?x":                  true,
		"":                                                    false,
	} {
		if got := p.SpeaksFor(u); got != want {
			t.Errorf("SpeaksFor(%q) = %v", u, got)
		}
	}
	var none *Principal
	if none.SpeaksFor("http://x/") {
		t.Error("nil principal speaks for something")
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range Roles() {
		if got, ok := ParseRole(" " + string(r) + " "); !ok || got != r {
			t.Errorf("ParseRole(%q) = %q %v", r, got, ok)
		}
	}
	if _, ok := ParseRole("root"); ok {
		t.Error("root is a role")
	}
}
