package console

import (
	"errors"
	"net/http"

	"sdatasync/sdata/diag"
	"sdatasync/sdata/mobile"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
)

// The devices page: the mobile sync components (their configuration, read
// from the device-sync engine) and the device registry, newest sync first,
// paged with a cursor through the registry's indexes
// (store.ConsoleDevices). Nothing secret is shown: versions are shown by
// the change sequence number they stand for, never sealed, and the keys
// that seal them are not read at all.

// componentJSON is a mobile sync component as the page reads it.
type componentJSON struct {
	Alias             string       `json:"alias"`
	Dataset           string       `json:"dataset"`
	Kind              string       `json:"kind"`
	State             string       `json:"state"`
	ConflictRule      string       `json:"conflictRule"`
	MergeFallback     string       `json:"mergeFallback,omitempty"`
	RowIdentifiers    []string     `json:"rowIdentifiers"`
	FilterKeys        []string     `json:"filterKeys"`
	StoreBusinessData bool         `json:"storeBusinessData"`
	Apps              []mobile.App `json:"apps"`
}

func toComponent(c mobile.Component) componentJSON {
	return componentJSON{Alias: c.Alias, Dataset: c.Dataset, Kind: c.Kind, State: c.State, ConflictRule: c.ConflictRule,
		MergeFallback: c.MergeFallback, RowIdentifiers: nonNil(c.RowIdentifiers), FilterKeys: nonNil(c.FilterKeys),
		StoreBusinessData: c.StoreBusinessData, Apps: nonNil(c.Apps)}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// deviceJSON is a row of the device registry as the page reads it.
type deviceJSON struct {
	Component  string `json:"component"`
	Device     string `json:"device"`
	User       string `json:"user"`
	App        string `json:"app"`
	AppVersion string `json:"appVersion"`
	FirstSync  string `json:"firstSync"`
	LastSync   string `json:"lastSync"`
	// LastStatus is the statusCode of the device's last sync; Status says
	// it in a word (ok, refused, failed).
	LastStatus int    `json:"lastStatus"`
	Status     string `json:"status"`
	// VersionHeld is the change sequence number of the version the device
	// last proved it holds (0: none yet).
	VersionHeld int64 `json:"versionHeld"`
	Syncs       int64 `json:"syncs"`
}

// statusWord names a device sync statusCode.
func statusWord(code int) string {
	switch code {
	case mobile.StatusOK:
		return "ok"
	case mobile.StatusInvalid, mobile.StatusBadFilter:
		return "refused"
	case mobile.StatusInternal:
		return "failed"
	}
	return "unknown"
}

func toDevice(d store.MobileDevice) deviceJSON {
	return deviceJSON{Component: d.Alias, Device: d.Device, User: d.User, App: d.App, AppVersion: d.AppVersion, FirstSync: stamp(d.FirstSync),
		LastSync: stamp(d.LastSync), LastStatus: d.LastStatus, Status: statusWord(d.LastStatus), VersionHeld: d.VersionSeq, Syncs: d.Syncs}
}

// unavailable answers the devices APIs of a provider without device sync.
func (s *Service) unavailable(w http.ResponseWriter) error {
	return writeJSON(w, http.StatusOK, map[string]any{"available": false,
		"message": "This provider does not serve device sync: there are no mobile sync components or devices."})
}

// Components serves GET /console/api/components: every mobile sync
// component, by alias (a provider holds a few; they are configuration).
func (s *Service) Components(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if s.comps == nil {
		return s.unavailable(w)
	}
	list, err := s.comps(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"available": true, "components": mapSlice(list, toComponent)})
}

// Devices serves GET /console/api/devices: a page of the device registry
// (a row per device and component), newest sync first, filtered by
// component (alias), user and device (exact values); limit bounds the
// page (default DefaultPage, at most MaxPage) and after is the next
// cursor of the page before. The answer's next is "" on the last page.
func (s *Service) Devices(w http.ResponseWriter, r *http.Request, t site.Target) error {
	if err := s.ready(); err != nil {
		return err
	}
	if s.comps == nil {
		return s.unavailable(w)
	}
	q := r.URL.Query()
	_, limit, err := page(q)
	if err != nil {
		return err
	}
	if q.Has("offset") {
		return diag.New(diag.BadParameter, "the device registry pages with after (the next cursor of the page before), not offset")
	}
	dq := store.ConsoleDeviceQuery{Alias: q.Get("alias"), User: q.Get("user"), Device: q.Get("device"), After: q.Get("after"), Limit: limit}
	list, next, err := s.st.ConsoleDevices(r.Context(), dq)
	if errors.Is(err, store.ErrBadCursor) {
		return diag.New(diag.BadParameter, "after %q: not a cursor of this registry (use the next of a page)", dq.After)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"available": true, "limit": limit, "after": dq.After, "next": next,
		"devices": mapSlice(list, toDevice)})
}
