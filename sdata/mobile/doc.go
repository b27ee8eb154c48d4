// Package mobile is device sync: webMethods Mobile Support's
// wm.mobile.datasync:synchronize service on the provider's own store and
// clock. One Engine is shared by every wire format (the synchronous
// synchronize service, asynchronous per-device sync jobs).
//
// A mobile sync component (Component, persisted, managed by the admin API
// and loadable from a JSON file) names a resource kind of a dataset, the
// row identifiers its uids are made of (EncodeUID: values joined by '~',
// reversible), the filter keys devices must filter on, a conflict rule
// (serverWins, clientWins, or merge with a fallback rule), whether the
// server keeps per device the rows it holds (storeBusinessData), a state,
// and the mobile applications and versions allowed.
//
// Every device change is a local write of the provider (a new tick, its
// syncState naming the user, an audit record naming device and user), so
// SData peers see ordinary changes and devices add nothing to digests or
// feeds. Downloads read the store's change sequence (every write of a
// resource, whatever made it, takes the next number in its transaction):
// "what changed since the device's version" is an index range scan, and
// the version returned is taken from the same snapshot as the rows.
// Versions are sealed with HMAC-SHA256 (Sealer; the keys live in the
// store and rotate): a forged, foreign, stale or truncated lastVersion is
// refused, never downloaded from.
//
// The one entry point is Engine.Sync:
//
//	eng, err := mobile.New(ctx, mobile.Config{Site: s, Store: st})
//	_, _, err = eng.PutComponent(ctx, mobile.Component{Alias: "accounts", Kind: "tradingAccounts",
//		RowIdentifiers: []string{"reference"}, FilterKeys: []string{"currency"},
//		ConflictRule: mobile.ServerWins, StoreBusinessData: true,
//		Apps: []mobile.App{{Name: "sales", Versions: []string{"*"}}}})
//	res, err := eng.Sync(ctx, mobile.Request{
//		Alias:  "accounts",
//		Caller: mobile.Caller{Device: "phone-7", User: "ann", App: "sales", AppVersion: "2.1"},
//		Filter: mobile.Filter{"currency": {"EUR"}},
//		Rows: []mobile.InputRow{{ActionID: mobile.ActInsert,
//			Record: mobile.Record{{Name: "reference", Value: "A1"}, {Name: "name", Value: "Acme"}, {Name: "currency", Value: "EUR"}}}},
//	}, func(o mobile.OutputRow) error { return enc.Encode(o) }) // results of the rows, then the download
//	// res.StatusCode 40, res.CurrentVersion is the next lastVersion, res.HasMore says more remains.
//
// A request without App and AppVersion is a backend notification: applied
// as authoritative, no version, no download. A 400 (*diag.Error) or a
// statusCode 30/31 applies nothing; a 50 rolls everything back.
package mobile
