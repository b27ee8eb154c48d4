package mobile

import (
	"context"
	"errors"
	"slices"

	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
)

// downloaded is what the download of a request did.
type downloaded struct {
	next    Version
	more    bool
	n       int
	emitErr bool // the error came from emit
}

// steady reports whether v ended a scan: the next one is incremental.
func (v Version) steady() bool {
	return !v.HeldNone && v.Pos == v.Held && v.Extra == 0 && v.HeldFilter.Equal(v.Filter)
}

// startScan is where the download of a request starts, given the device's
// version (fresh: none), its filter now and the last sequence number of
// the snapshot.
func startScan(v Version, fresh bool, f Filter, last int64) Version {
	switch {
	case fresh:
		return Version{HeldNone: true, Start: last, Filter: f}
	case !v.Filter.Equal(f) && v.steady():
		// The device held the rows matching its old filter as of v.Pos:
		// every row is looked at again under the new one.
		return Version{Held: v.Pos, HeldFilter: v.Filter, Start: last, Filter: f}
	case !v.Filter.Equal(f):
		// A filter changed in the middle of a scan: what the device holds
		// is known of no row any more; every row may be held (matching
		// rows come as updates, the others as deletes).
		return Version{HeldNone: true, Start: last, Extra: last, Filter: f}
	case v.steady():
		return Version{Pos: v.Pos, Held: v.Pos, HeldFilter: f, Start: last, Filter: f}
	}
	return v // the next page of a scan
}

// holding is what the server can tell about a row the device may hold.
type holding int

const (
	holdsNot   holding = iota // the device cannot hold it
	holdsMaybe                // it may hold some version of it
	holdsExact                // it holds exactly this version
)

// holds says, for a row not scanned yet in this scan (Seq > Pos) and its
// current record, what the device holds of it, from the version alone
// (components without storeBusinessData).
func (v Version) holds(r store.SeqRow, rec Record) holding {
	switch {
	case !v.HeldNone && r.Seq <= v.Held && v.HeldFilter.Matches(rec):
		return holdsExact // unchanged since the device held the rows matching its filter
	case !v.HeldNone && r.Seq > v.Held && r.FirstSeq <= v.Held:
		return holdsMaybe // it existed then and changed since
	case r.FirstSeq <= v.Extra:
		return holdsMaybe // an interrupted scan may have sent it
	case r.Seq > v.Start && r.FirstSeq <= v.Pos:
		return holdsMaybe // an earlier page of this scan may have sent it
	}
	return holdsNot
}

// download sends the device what it lacks, from one snapshot, and the
// version that snapshot stands for. With storeBusinessData the rows sent
// are recorded as pending in the same (write) transaction and emitted after
// it commits; without, they stream from a read transaction.
func (e *Engine) download(ctx context.Context, sc site.Scope, c Component, device string, v Version, fresh bool, f Filter,
	up uploaded, size int, emit func(OutputRow) error) (downloaded, error) {
	var dl downloaded
	run := func(m *store.MobileTx, out func(OutputRow) error) error {
		dl = downloaded{}
		last, err := m.LastSeq(ctx)
		if err != nil {
			return err
		}
		scan := startScan(v, fresh, f, last)
		holdsAny := true // (storeBusinessData) a device holding nothing needs no lookups
		if c.StoreBusinessData {
			if holdsAny, err = m.HoldsAny(ctx, c.Alias, device); err != nil {
				return err
			}
		}
		// send decides one row and emits what the device needs of it.
		// maybe: the device may hold a version of its own (an answer lost).
		send := func(r store.SeqRow, maybe bool) error {
			rec, err := RecordFromProps(r.Props)
			if err != nil {
				return err
			}
			want := !r.Deleted && f.Matches(rec)
			var rows []OutputRow
			if c.StoreBusinessData {
				if rows, err = e.heldRows(ctx, m, c, device, up.response, r, rec, want, holdsAny); err != nil {
					return err
				}
			} else {
				h := scan.holds(r, rec)
				if maybe && h == holdsNot {
					h = holdsMaybe
				}
				rows = versionRows(c, h, r, rec, want)
			}
			for _, o := range rows {
				if err := out(o); err != nil {
					dl.emitErr = true
					return err
				}
				dl.n++
			}
			return nil
		}
		told := func(r store.SeqRow) bool {
			// The answer to an upload of this request carried this version
			// (or its delete, if it does not match the filter).
			s, ok := up.told[r.Key]
			return ok && s == r.Seq
		}
		// Rows the device may hold in a version of its own (an answer it
		// lost) are looked at wherever the scan is.
		dirty, err := e.dirtyKeys(ctx, m, c, device, up)
		if err != nil {
			return err
		}
		visited := map[string]int64{}
		for _, k := range dirty {
			r, err := m.Row(ctx, sc.Endpoint, k)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if told(r) {
				continue
			}
			visited[k] = r.Seq
			if err := send(r, true); err != nil {
				return err
			}
		}
		err = m.Changes(ctx, sc.Endpoint, scan.Pos, func(r store.SeqRow) (bool, error) {
			if dl.n >= size {
				dl.more = true
				return false, nil
			}
			if s, ok := visited[r.Key]; !(ok && s == r.Seq) && !told(r) {
				if err := send(r, false); err != nil {
					return false, err
				}
			}
			scan.Pos = r.Seq
			return true, nil
		})
		if err != nil {
			return err
		}
		if dl.more {
			dl.next = scan
		} else {
			dl.next = Version{Pos: last, Held: last, HeldFilter: f, Start: last, Filter: f}
		}
		return nil
	}
	if !c.StoreBusinessData {
		err := e.st.MobileRead(ctx, func(m *store.MobileTx) error { return run(m, emit) })
		return dl, err
	}
	var buf []OutputRow
	err := e.st.MobileWrite(ctx, func(m *store.MobileTx) error {
		buf = buf[:0]
		return run(m, func(o OutputRow) error { buf = append(buf, o); return nil })
	})
	if err != nil {
		return dl, err
	}
	for _, o := range buf {
		if err := emit(o); err != nil {
			dl.emitErr = true
			return dl, err
		}
	}
	return dl, nil
}

// dirtyKeys lists the rows the device may hold in a version of its own:
// with storeBusinessData its unconfirmed held rows, else the rows it wrote
// in answers it lost.
func (e *Engine) dirtyKeys(ctx context.Context, m *store.MobileTx, c Component, device string, up uploaded) ([]string, error) {
	if c.StoreBusinessData {
		return m.UnconfirmedHeld(ctx, c.Alias, device)
	}
	keys := make([]string, 0, len(up.lost))
	for k := range up.lost {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, nil
}

// versionRows decides a row from the version alone: a row the server
// cannot prove the device lacks is sent as an update (devices treat an
// update of a uid they do not hold as an insert).
func versionRows(c Component, h holding, r store.SeqRow, rec Record, want bool) []OutputRow {
	uid := uidOf(c, rec)
	switch {
	case want && h == holdsNot:
		return []OutputRow{{Record: rec, UID: uid, ActionID: ActInsert, RowStatus: RowOK}}
	case want && h == holdsMaybe:
		return []OutputRow{{Record: rec, UID: uid, ActionID: ActUpdate, RowStatus: RowOK}}
	case !want && h != holdsNot:
		return []OutputRow{{UID: uid, ActionID: ActDelete, RowStatus: RowOK}}
	}
	return nil
}

// heldRows decides a row from what the device holds (storeBusinessData)
// and records what is sent as pending on this response.
func (e *Engine) heldRows(ctx context.Context, m *store.MobileTx, c Component, device string, resp int64, r store.SeqRow, rec Record, want, lookup bool) ([]OutputRow, error) {
	var held store.HeldRow
	var ok bool
	if lookup {
		var err error
		if held, ok, err = m.Held(ctx, c.Alias, device, r.Key); err != nil {
			return nil, err
		}
	}
	holds := ok && !held.Deleted
	var heldUID string
	if holds {
		hr, err := RecordFromProps(held.Record)
		if err != nil {
			return nil, err
		}
		heldUID = uidOf(c, hr)
	}
	uid := uidOf(c, rec)
	var rows []OutputRow
	switch {
	case want && holds && held.Seq == r.Seq:
		return nil, nil // it has this version
	case want && holds && heldUID == uid:
		rows = []OutputRow{{Record: rec, UID: uid, ActionID: ActUpdate}}
	case want && holds:
		// Its row identifiers changed: the device's uid goes, the new one comes.
		rows = []OutputRow{{UID: heldUID, ActionID: ActDelete}, {Record: rec, UID: uid, ActionID: ActInsert}}
	case want:
		rows = []OutputRow{{Record: rec, UID: uid, ActionID: ActInsert}}
	case holds:
		rows = []OutputRow{{UID: heldUID, ActionID: ActDelete}}
	default:
		return nil, nil
	}
	p := store.HeldRow{Key: r.Key, Seq: r.Seq, Deleted: !want, Record: recordJSON(rec)}
	return rows, m.AddPending(ctx, c.Alias, device, resp, p)
}
