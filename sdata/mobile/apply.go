package mobile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"sdatasync/sdata/diag"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
)

// prepared is an input row checked before anything is applied.
type prepared struct {
	action int
	rec    Record // normalized device fields
	uid    string // the uid that names the row
	lookup []any  // the row identifier values, as the props hold them
	fail   string // why the row fails (rowStatus 1), "" when it may apply
}

// prepare checks every input row: a malformed row is a 400 for the whole
// request, a row whose uid cannot be derived (or that is no uid of the
// component) is statusCode 30 for the whole request, a row whose fields are
// wrong fails alone (rowStatus 1).
func (e *Engine) prepare(sc site.Scope, c Component, in []InputRow) ([]prepared, Result, error) {
	if len(in) > e.limits.RowsPerRequest {
		return nil, Result{}, diag.New(diag.BadRequest, "inputPayload holds %d rows; at most %d in one request", len(in), e.limits.RowsPerRequest)
	}
	k := sc.Kind
	out := make([]prepared, len(in))
	for i, r := range in {
		p := &out[i]
		p.action = r.ActionID
		if r.ActionID != ActInsert && r.ActionID != ActDelete && r.ActionID != ActUpdate {
			return nil, Result{}, diag.New(diag.BadRequest, "inputPayload row %d: actionId %d: 0 (insert), 1 (delete) or 2 (update)", i+1, r.ActionID)
		}
		if len(r.Record) > e.limits.FieldsPerRecord {
			return nil, Result{}, diag.New(diag.BadRequest, "inputPayload row %d: mDataRow holds %d fields; at most %d", i+1, len(r.Record), e.limits.FieldsPerRecord)
		}
		if err := checkFields(k, r.Record); err != nil {
			p.fail = err.Error()
		} else {
			p.rec = normalize(k, r.Record)
		}
		vals := make([]string, len(c.RowIdentifiers))
		switch {
		case r.UID != "" && r.ActionID != ActInsert:
			v, err := DecodeUID(r.UID, len(c.RowIdentifiers))
			if err == nil {
				for j, n := range c.RowIdentifiers {
					if p := k.Type.Property(n); propText(p, v[j]) != v[j] || p.CheckValue(v[j]) != nil {
						err = ErrBadUID
					}
				}
			}
			if err != nil {
				return nil, Result{StatusCode: StatusInvalid, Message: fmt.Sprintf("inputPayload row %d: %q is not a uid of mobile sync component %s", i+1, r.UID, c.Alias)}, nil
			}
			vals = v
		case p.fail != "":
			// Fields wrong: the row fails; its uid is what it names, if anything.
			p.uid = r.UID
			continue
		default:
			for j, n := range c.RowIdentifiers {
				f, ok := p.rec.Get(n)
				if !ok || f.Null {
					return nil, Result{StatusCode: StatusInvalid, Message: fmt.Sprintf("inputPayload row %d: cannot derive the uid: row identifier %q missing", i+1, n)}, nil
				}
				vals[j] = f.Value
			}
		}
		p.uid = EncodeUID(vals)
		p.lookup = make([]any, len(vals))
		for j, n := range c.RowIdentifiers {
			p.lookup[j] = lookupValue(k.Type.Property(n), vals[j])
		}
	}
	return out, Result{}, nil
}

// uidOf is the uid of a record (its row identifier values).
func uidOf(c Component, r Record) string {
	vals := make([]string, len(c.RowIdentifiers))
	for i, n := range c.RowIdentifiers {
		vals[i] = get(r, n).Value
	}
	return EncodeUID(vals)
}

// seen is the sequence number up to which a device has seen every version
// of the component's rows.
func seen(v Version, fresh bool) int64 {
	if fresh {
		return 0
	}
	return max(v.Pos, v.Held)
}

// uploaded is what the write transaction of a request did.
type uploaded struct {
	out      []OutputRow
	written  []store.Resource
	told     map[string]int64 // key -> the sequence number of the version the answer tells the device
	lost     map[string]bool  // keys the device wrote in responses it lost (without storeBusinessData)
	response int64            // the number of this response
}

// conflictNote is one resolved or unresolvable conflict, for the audit log.
type conflictNote struct {
	UID         string `json:"uid"`
	Key         string `json:"key"`
	Action      int    `json:"actionId"`
	RowStatus   int    `json:"rowStatus"`
	Winner      string `json:"winner,omitempty"`
	Lost        Record `json:"lost,omitempty"`
	LostDeleted bool   `json:"lostDeleted,omitempty"`
}

// auditDetail is the detail of a device sync's audit record.
type auditDetail struct {
	Alias      string         `json:"alias"`
	Device     string         `json:"device,omitempty"`
	User       string         `json:"user"`
	App        string         `json:"app,omitempty"`
	AppVersion string         `json:"appVersion,omitempty"`
	Inserted   int            `json:"inserted"`
	Updated    int            `json:"updated"`
	Deleted    int            `json:"deleted"`
	Unchanged  int            `json:"unchanged"`
	Failed     int            `json:"failed"`
	Conflicts  []conflictNote `json:"conflicts,omitempty"`
}

// upload applies the rows in one write transaction, with the device's
// registry row, what it holds, and the audit record.
func (e *Engine) upload(ctx context.Context, sc site.Scope, c Component, req Request, v Version, fresh bool, rows []prepared, started time.Time) (uploaded, error) {
	var up uploaded
	cl := req.Caller
	device := cl.IsDevice()
	err := e.st.MobileWrite(ctx, func(m *store.MobileTx) error {
		up = uploaded{told: map[string]int64{}}
		det := auditDetail{Alias: c.Alias, Device: cl.Device, User: cl.User, App: cl.App, AppVersion: cl.AppVersion}
		var dev store.MobileDevice
		if device {
			var err error
			dev, err = m.Device(ctx, c.Alias, cl.Device)
			if errors.Is(err, store.ErrNotFound) {
				dev = store.MobileDevice{Alias: c.Alias, Device: cl.Device, FirstSync: started}
			} else if err != nil {
				return err
			}
			up.response = dev.Responses + 1
			if !fresh && c.StoreBusinessData && v.Response < dev.Acked {
				// What the server holds for the device is ahead of this
				// version: downloading from it could miss rows.
				return &VersionError{"older than a version this device already acknowledged (restored from a backup?); sync with a blank lastVersion"}
			}
			dev.Acked = 0
			if !fresh {
				dev.Acked = v.Response
			}
			switch {
			case !c.StoreBusinessData:
				up.lost, err = m.LostWrites(ctx, c.Alias, cl.Device, v.Response)
			case fresh:
				err = m.ForgetDevice(ctx, c.Alias, cl.Device)
			default:
				_, err = m.AckResponse(ctx, c.Alias, cl.Device, v.Response)
			}
			if err != nil {
				return err
			}
		}
		a := applier{e: e, m: m, sc: sc, c: c, cl: cl, device: device, v: v, fresh: fresh, filter: req.Filter.canonical(), up: &up, det: &det}
		for _, p := range rows {
			o, err := a.row(ctx, p)
			if err != nil {
				return err
			}
			up.out = append(up.out, o)
		}
		if device {
			dev.User, dev.App, dev.AppVersion = cl.User, cl.App, cl.AppVersion
			dev.LastSync, dev.LastStatus, dev.VersionSeq = started, StatusOK, seen(v, fresh)
			dev.Responses, dev.Syncs = up.response, dev.Syncs+1
			if err := m.PutDevice(ctx, dev); err != nil {
				return err
			}
		}
		if len(rows) == 0 {
			return nil
		}
		return e.audit(ctx, m, sc, req, det, started)
	})
	return up, err
}

func (e *Engine) audit(ctx context.Context, m *store.MobileTx, sc site.Scope, req Request, det auditDetail, started time.Time) error {
	b, err := json.Marshal(det)
	if err != nil {
		return err
	}
	op, run, stamp := "mobile.sync", req.RunName, req.RunStamp
	if !req.Caller.IsDevice() {
		op = "mobile.notify"
	}
	if run == "" {
		run = "mobile:" + req.Alias
	}
	if stamp == "" {
		stamp = started.UTC().Format(time.RFC3339Nano)
	}
	return m.Audit(ctx, store.AuditRecord{Time: time.Now(), Dataset: sc.Dataset, Kind: sc.Kind.PluralName, Operation: op,
		TrackingID: req.RequestID, RunName: run, RunStamp: stamp, RunTime: started, Client: req.Caller.User, Status: StatusOK,
		Count: det.Inserted + det.Updated + det.Deleted, Duration: time.Since(started), Detail: string(b)})
}

// applier applies the rows of one request inside its transaction.
type applier struct {
	e      *Engine
	m      *store.MobileTx
	sc     site.Scope
	c      Component
	cl     Caller
	device bool
	v      Version
	fresh  bool
	filter Filter // the device's (canonical)
	up     *uploaded
	det    *auditDetail
}

func (a *applier) keepsHeld() bool { return a.device && a.c.StoreBusinessData }

// row applies one prepared row and answers it.
func (a *applier) row(ctx context.Context, p prepared) (OutputRow, error) {
	fail := func(msg string) (OutputRow, error) {
		a.det.Failed++
		return OutputRow{UID: p.uid, ActionID: p.action, RowStatus: RowFailed, Message: msg}, nil
	}
	if p.fail != "" {
		return fail(p.fail)
	}
	ep := a.sc.Endpoint
	cands, err := a.m.FindByProps(ctx, ep, a.c.RowIdentifiers, p.lookup)
	if err != nil {
		return OutputRow{}, err
	}
	live := 0
	for _, r := range cands {
		if !r.Deleted {
			live++
		}
	}
	if live > 1 {
		return fail(fmt.Sprintf("uid %s names %d rows; the component's row identifiers do not identify a row", p.uid, live))
	}
	if len(cands) == 0 {
		switch p.action {
		case ActUpdate:
			return fail(fmt.Sprintf("no row has uid %s", p.uid))
		case ActDelete:
			a.det.Unchanged++
			return OutputRow{UID: p.uid, ActionID: ActDelete, RowStatus: RowOK}, nil
		}
		return a.write(ctx, p, nil, Resolution{Write: true, Result: p.rec, Status: RowOK}, nil)
	}
	cur := cands[0]
	server, err := RecordFromProps(cur.Props)
	if err != nil {
		return OutputRow{}, err
	}
	s := Situation{Action: p.action, Device: p.rec, Server: server, ServerLive: !cur.Deleted, Backend: !a.device,
		Rule: a.c.ConflictRule, Fallback: a.c.MergeFallback}
	if a.device {
		// A version this request wrote or told of is one the device has seen.
		told, toldOK := a.up.told[cur.Key]
		s.Changed = cur.Seq > seen(a.v, a.fresh) && !(toldOK && told == cur.Seq)
		if a.c.StoreBusinessData {
			held, ok, err := a.m.Held(ctx, a.c.Alias, a.cl.Device, cur.Key)
			if err != nil {
				return OutputRow{}, err
			}
			if ok {
				if held.Deleted && p.action == ActDelete {
					// A retried delete of a row re-created since: nothing to do.
					a.det.Unchanged++
					return OutputRow{UID: p.uid, ActionID: ActDelete, RowStatus: RowOK}, nil
				}
				s.Changed = held.Seq != cur.Seq && !(toldOK && told == cur.Seq)
				if s.Base, err = RecordFromProps(held.Record); err != nil {
					return OutputRow{}, err
				}
				s.HasBase = !held.Deleted
			}
		}
	}
	return a.write(ctx, p, &cur, Decide(s), server)
}

// write executes a resolution for the row cur (nil: none yet) and
// answers it.
func (a *applier) write(ctx context.Context, p prepared, cur *store.SeqRow, r Resolution, server Record) (OutputRow, error) {
	ep, k := a.sc.Endpoint, a.sc.Kind
	final := r.Result
	var finalSeq int64
	deleted := r.Delete
	wasLive := cur != nil && !cur.Deleted
	if cur != nil {
		finalSeq = cur.Seq
	}
	if r.Write {
		var res store.Resource
		var sr store.SeqRow
		var err error
		switch {
		case r.Delete:
			res, sr, err = a.m.Delete(ctx, ep, cur.Key, a.cl.User)
			a.det.Deleted++
		case cur == nil:
			stored, props, title, berr := build(a.e.site.Contract, k, nil, r.Result, "")
			if berr != nil {
				return a.failPayload(p, berr)
			}
			res, sr, err = a.m.Create(ctx, ep, store.Write{Payload: stored, Props: props, Title: title, User: a.cl.User})
			a.det.Inserted++
		default:
			full, _, gerr := a.m.Get(ctx, ep, cur.Key)
			if gerr != nil {
				return OutputRow{}, gerr
			}
			stored, props, title, berr := build(a.e.site.Contract, k, full.Payload, r.Result, cur.Key)
			if berr != nil {
				return a.failPayload(p, berr)
			}
			res, sr, err = a.m.Put(ctx, ep, cur.Key, store.Write{Payload: stored, Props: props, Title: title, User: a.cl.User})
			a.det.Updated++
		}
		if err != nil {
			return OutputRow{}, err
		}
		a.up.written = append(a.up.written, res)
		finalSeq = sr.Seq
		cur = &sr
		if !deleted {
			if final, err = RecordFromProps(sr.Props); err != nil {
				return OutputRow{}, err
			}
		}
	} else if r.Status == RowOK {
		a.det.Unchanged++
	}
	// A row that does not match the device's filter leaves the device.
	gone := deleted || a.device && !a.filter.Matches(final)
	out := OutputRow{RowStatus: r.Status}
	switch {
	case gone:
		out.ActionID = ActDelete
		out.UID = p.uid
		if !deleted {
			out.UID = uidOf(a.c, final)
		} else if server != nil {
			out.UID = uidOf(a.c, server)
		}
	case p.action == ActInsert && (r.Write && !wasLive || !r.Write && r.Status == RowOK):
		// Created, or a retried insert the server already holds.
		out.ActionID, out.Record, out.UID = ActInsert, final, uidOf(a.c, final)
	default:
		out.ActionID, out.Record, out.UID = ActUpdate, final, uidOf(a.c, final)
	}
	if r.Status == RowUnresolvable {
		// The answer carries the server's version: it becomes the base of
		// the resubmitted change.
		out.Message = "the row changed on the server since this device last synced it and there is no base to merge with: this is the server's version; resubmit the change"
	}
	if r.Winner != "" || r.Status == RowUnresolvable {
		a.det.Conflicts = append(a.det.Conflicts, conflictNote{UID: out.UID, Key: keyOf(cur), Action: p.action, RowStatus: r.Status,
			Winner: r.Winner, Lost: r.Lost, LostDeleted: r.LostDeleted})
	}
	if cur == nil {
		return out, nil
	}
	a.up.told[cur.Key] = finalSeq
	if a.device && !a.c.StoreBusinessData && (r.Write || r.Status != RowOK || gone) {
		// Should this answer be lost, the device holds its own version.
		return out, a.m.AddPending(ctx, a.c.Alias, a.cl.Device, a.up.response, store.HeldRow{Key: cur.Key, Seq: finalSeq, Record: []byte("{}")})
	}
	if !a.keepsHeld() {
		return out, nil
	}
	// What the device holds once it has this answer, and what it holds
	// should the answer be lost: its own version (the server's new one when
	// the server stored exactly what it sent).
	answer := store.HeldRow{Key: cur.Key, Seq: finalSeq, Deleted: gone, Record: recordJSON(final)}
	own := store.HeldRow{Key: cur.Key, Deleted: p.action == ActDelete, Record: recordJSON(overlay(server, p.rec))}
	if r.Status == RowOK {
		own = store.HeldRow{Key: cur.Key, Seq: finalSeq, Deleted: deleted, Record: answer.Record}
	}
	// (The pending answer replaces an earlier one for the row in this
	// request, even when it equals own.)
	if err := a.m.PutHeld(ctx, a.c.Alias, a.cl.Device, own); err != nil {
		return out, err
	}
	return out, a.m.AddPending(ctx, a.c.Alias, a.cl.Device, a.up.response, answer)
}

func (a *applier) failPayload(p prepared, err error) (OutputRow, error) {
	var pe *payload.Error
	if !errors.As(err, &pe) {
		return OutputRow{}, err
	}
	a.det.Failed++
	return OutputRow{UID: p.uid, ActionID: p.action, RowStatus: RowFailed, Message: pe.Message}, nil
}

func keyOf(r *store.SeqRow) string {
	if r == nil {
		return ""
	}
	return r.Key
}

// recordJSON is a record as the props hold it (a JSON object).
func recordJSON(r Record) []byte {
	b, _ := r.MarshalJSON()
	return b
}
