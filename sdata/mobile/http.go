package mobile

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"sdatasync/sdata/auth"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// The headers of a device request.
const (
	HeaderApp        = "X-Mobile-App-Name"
	HeaderAppVersion = "X-Mobile-App-Version"
	// HeaderDevice names the device when its credential is not bound to one.
	HeaderDevice = "X-Mobile-Device-ID"
)

// IsDeviceRequest reports whether a request claims to come from a device
// (either app header present): the route table asks it to pick the role a
// request needs.
func IsDeviceRequest(r *http.Request) bool {
	return r.Header.Get(HeaderApp) != "" || r.Header.Get(HeaderAppVersion) != ""
}

// format is the body format of a request by its Content-Type.
func format(r *http.Request) (Format, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return JSON, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return JSON, nil
	case mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		return XML, nil
	}
	return JSON, diag.New(diag.UnsupportedMediaType, "unsupported media type %q: send application/json or application/xml", ct)
}

func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	body, err := wire.ReadLimited(w, r, max)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, diag.New(diag.BadRequest, "the request body is empty: a synchronize request was expected")
	}
	return body, nil
}

// Synchronize serves the synchronize service: POST
// /invoke/wm.mobile.datasync/synchronize, and with scoped the form under a
// dataset URL (only components of that dataset). maxBody bounds the body
// (413 above it).
func (e *Engine) Synchronize(maxBody int64, scoped bool) site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		reached := false // a device request refused before it reaches Sync is counted here
		defer func() {
			if !reached && e.onSync != nil && IsDeviceRequest(r) {
				e.onSync("refused")
			}
		}()
		f, err := format(r)
		if err != nil {
			return err
		}
		body, err := readBody(w, r, maxBody)
		if err != nil {
			return err
		}
		d, err := Decode(f, body, e.limits.RowsPerRequest, e.limits.FieldsPerRecord)
		if err != nil {
			return diag.New(diag.BadRequest, "%v", err)
		}
		cl := Caller{User: auth.Name(r), App: r.Header.Get(HeaderApp), AppVersion: r.Header.Get(HeaderAppVersion), Device: r.Header.Get(HeaderDevice)}
		if p := auth.From(r.Context()); p != nil && p.Device != "" {
			if cl.Device != "" && cl.Device != p.Device {
				return diag.New(diag.Forbidden, "this credential is bound to another device")
			}
			cl.Device = p.Device
		}
		req := Request{Alias: d.Alias, Caller: cl, LastVersion: d.LastVersion, Filter: d.Filter, Rows: d.Rows, PageSize: d.PageSize,
			RequestID: uuid.NewString()}
		if ru := wire.RunOf(r); ru.Name != "" {
			req.RunName, req.RunStamp, req.RequestID = ru.Name, ru.Stamp, cmpOr(ru.Tracking, req.RequestID)
		}
		if scoped {
			req.Dataset = t.Dataset
		}
		enc := NewEncoder(f, w)
		begin := func(status int) {
			if f == XML {
				w.Header().Set("Content-Type", "application/xml; charset=utf-8")
			} else {
				w.Header().Set("Content-Type", "application/json")
			}
			w.WriteHeader(status)
		}
		started := false
		reached = true
		res, err := e.Sync(r.Context(), req, func(o OutputRow) error {
			if !started {
				started = true
				begin(http.StatusOK)
			}
			return enc.Row(o)
		})
		if err != nil {
			return err // a diagnosis before anything was written; else the answer is cut
		}
		if !started {
			status := http.StatusOK
			if res.StatusCode == StatusInternal {
				status = http.StatusInternalServerError
			}
			begin(status)
		}
		return enc.End(res)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) error { return wire.WriteJSON(w, status, v) }

// ListComponents answers the components, by alias.
func (e *Engine) ListComponents() site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		list, err := e.Components(r.Context())
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, list)
	}
}

// GetComponent answers one component.
func (e *Engine) GetComponent() site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		c, err := e.Component(r.Context(), t.ID)
		if errors.Is(err, store.ErrNotFound) {
			return diag.New(diag.NoResource, "no mobile sync component %q", t.ID)
		}
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, c)
	}
}

func (e *Engine) readComponent(w http.ResponseWriter, r *http.Request, maxBody int64) (Component, error) {
	if f, err := format(r); err != nil || f != JSON {
		return Component{}, diag.New(diag.UnsupportedMediaType, "a component is a JSON document: send application/json")
	}
	body, err := readBody(w, r, maxBody)
	if err != nil {
		return Component{}, err
	}
	if d := jsonDepth(body); d > MaxDepth {
		return Component{}, diag.New(diag.BadRequest, "the body nests %d levels deep; at most %d", d, MaxDepth)
	}
	list, err := ParseComponents(body)
	if err != nil || len(list) != 1 {
		return Component{}, diag.New(diag.BadRequest, "the body is not one component: %v", err)
	}
	return list[0], nil
}

// CreateComponent creates a component from the JSON body: 201, or 409
// when the alias exists.
func (e *Engine) CreateComponent(maxBody int64) site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		c, err := e.readComponent(w, r, maxBody)
		if err != nil {
			return err
		}
		if _, err := e.Component(r.Context(), c.Alias); err == nil {
			return diag.New(diag.Conflict, "mobile sync component %q exists; PUT replaces it", c.Alias)
		}
		stored, _, err := e.PutComponent(r.Context(), c)
		if err != nil {
			return err
		}
		w.Header().Set("Location", r.URL.Path+"('"+stored.Alias+"')")
		return writeJSON(w, http.StatusCreated, stored)
	}
}

// ReplaceComponent creates or replaces the component the URL names.
func (e *Engine) ReplaceComponent(maxBody int64) site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		c, err := e.readComponent(w, r, maxBody)
		if err != nil {
			return err
		}
		if c.Alias == "" {
			c.Alias = t.ID
		}
		if c.Alias != t.ID {
			return diag.New(diag.BadRequest, "the body names component %q, the URL %q", c.Alias, t.ID)
		}
		stored, created, err := e.PutComponent(r.Context(), c)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return writeJSON(w, status, stored)
	}
}

// RemoveComponent deletes the component the URL names.
func (e *Engine) RemoveComponent() site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		err := e.DeleteComponent(r.Context(), t.ID)
		if errors.Is(err, store.ErrNotFound) {
			return diag.New(diag.NoResource, "no mobile sync component %q", t.ID)
		}
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// deviceJSON is a device registry row as the API answers it.
type deviceJSON struct {
	Alias      string    `json:"alias"`
	Device     string    `json:"device"`
	User       string    `json:"user"`
	App        string    `json:"app"`
	AppVersion string    `json:"appVersion"`
	FirstSync  time.Time `json:"firstSync"`
	LastSync   time.Time `json:"lastSync"`
	LastStatus int       `json:"lastStatus"`
	// VersionHeld is the change sequence number of the version the device
	// last proved it holds (the lastVersion of its last request).
	VersionHeld int64 `json:"versionHeld"`
	Syncs       int64 `json:"syncs"`
}

// Devices answers the device registry: filters alias, device, user;
// paging startIndex and count.
func (e *Engine) Devices() site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		q := r.URL.Query()
		pg, err := wire.ParsePaging(q)
		if err != nil {
			return err
		}
		list, total, err := e.st.MobileDevices(r.Context(), store.DeviceQuery{Alias: wire.QueryParam(q, "alias"),
			Device: wire.QueryParam(q, "device"), User: wire.QueryParam(q, "user"), Offset: pg.Offset(), Limit: pg.Count})
		if err != nil {
			return err
		}
		out := struct {
			TotalResults int          `json:"totalResults"`
			StartIndex   int          `json:"startIndex"`
			ItemsPerPage int          `json:"itemsPerPage"`
			Devices      []deviceJSON `json:"devices"`
		}{total, pg.Start, pg.Count, []deviceJSON{}}
		for _, d := range list {
			out.Devices = append(out.Devices, deviceJSON{d.Alias, d.Device, d.User, d.App, d.AppVersion, d.FirstSync, d.LastSync,
				d.LastStatus, d.VersionSeq, d.Syncs})
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

// RotateKeyHandler seals new versions with a new key; ?retire=true also
// retires the old keys (their versions no longer open).
func (e *Engine) RotateKeyHandler() site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		retire, _ := strconv.ParseBool(wire.QueryParam(r.URL.Query(), "retire"))
		if err := e.RotateKey(r.Context(), retire); err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]bool{"rotated": true, "retired": retire})
	}
}
