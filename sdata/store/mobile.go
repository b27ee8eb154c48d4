package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"sdatasync/digest"
)

// Device sync (package sdata/mobile) reads and writes resources through a
// MobileTx: one SQLite transaction in which a device's rows become local
// writes of the provider (each takes a tick, exactly like a write through
// the SData URLs, so peers see ordinary changes), the device's state and
// the audit records commit with them, and downloads read rows and the
// change sequence from one snapshot.

// MobileTx is one transaction of device sync. Writes are only allowed in a
// transaction opened by MobileWrite.
type MobileTx struct {
	tx    *sql.Tx
	write bool
}

// MobileWrite runs fn in one write transaction and commits it when fn
// returns nil; any error rolls everything back.
func (s *SQLite) MobileWrite(ctx context.Context, fn func(m *MobileTx) error) error {
	return s.write(ctx, func(tx *sql.Tx) error { return fn(&MobileTx{tx: tx, write: true}) })
}

// MobileRead runs fn in one read-only transaction: everything fn reads is
// one consistent snapshot of the store.
func (s *SQLite) MobileRead(ctx context.Context, fn func(m *MobileTx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: begin read: %w", err)
	}
	defer tx.Rollback()
	return fn(&MobileTx{tx: tx})
}

// SeqRow is a resource as device sync reads it: its key, simple properties
// (the JSON props), whether it is a tombstone, the number of its last
// write in the change sequence and that of its first.
type SeqRow struct {
	Key      string
	Props    []byte
	Deleted  bool
	Seq      int64
	FirstSeq int64
}

// LastSeq is the number of the latest write in the snapshot: every write
// numbered up to it is visible in this transaction, none after it.
func (m *MobileTx) LastSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := m.tx.QueryRowContext(ctx, `SELECT last FROM change_seq WHERE id = 1`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: change sequence: %w", err)
	}
	return n, nil
}

// Changes calls fn with every resource (tombstones included) of ep written
// after seq after, in sequence order, until fn returns false or an error.
func (m *MobileTx) Changes(ctx context.Context, ep Endpoint, after int64, fn func(r SeqRow) (bool, error)) error {
	rows, err := m.tx.QueryContext(ctx, `SELECT key, props, deleted, seq, first_seq FROM resources
		WHERE endpoint_id = ? AND seq > ? ORDER BY seq`, ep.ID, after)
	if err != nil {
		return fmt.Errorf("store: changes of %s: %w", ep.Kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r SeqRow
		if err := rows.Scan(&r.Key, &r.Props, &r.Deleted, &r.Seq, &r.FirstSeq); err != nil {
			return fmt.Errorf("store: changes of %s: %w", ep.Kind, err)
		}
		more, err := fn(r)
		if err != nil || !more {
			return err
		}
	}
	return rows.Err()
}

// propName is what a property name must look like to go into a JSON path.
var propName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

func propPath(name string) (string, error) {
	if !propName.MatchString(name) || strings.Contains(name, ".") {
		return "", fmt.Errorf("store: %q cannot name a property", name)
	}
	return `json_extract(props, '$.` + name + `')`, nil
}

// EnsurePropIndex creates (once) the index that finds resources by the
// values of the simple properties names, in that order: device sync looks
// rows up by their row identifiers.
func (s *SQLite) EnsurePropIndex(ctx context.Context, names []string) error {
	cols := []string{"endpoint_id"}
	for _, n := range names {
		p, err := propPath(n)
		if err != nil {
			return err
		}
		cols = append(cols, p)
	}
	name := "props_" + strings.NewReplacer(".", "_", "-", "_").Replace(strings.Join(names, "__"))
	_, err := s.w.ExecContext(ctx, `CREATE INDEX IF NOT EXISTS "`+name+`" ON resources (`+strings.Join(cols, ", ")+`)`)
	if err != nil {
		return fmt.Errorf("store: index on %v: %w", names, err)
	}
	return nil
}

// FindByProps returns the resources of ep (tombstones included) whose
// simple properties names hold vals (each a string, int64 or float64, as
// in the JSON props): live ones first, then the latest written.
func (m *MobileTx) FindByProps(ctx context.Context, ep Endpoint, names []string, vals []any) ([]SeqRow, error) {
	if len(names) != len(vals) || len(names) == 0 {
		return nil, errors.New("store: FindByProps needs one value per name")
	}
	where := []string{"endpoint_id = ?"}
	args := []any{ep.ID}
	for i, n := range names {
		p, err := propPath(n)
		if err != nil {
			return nil, err
		}
		where = append(where, p+" = ?")
		args = append(args, vals[i])
	}
	rows, err := m.tx.QueryContext(ctx, `SELECT key, props, deleted, seq, first_seq FROM resources WHERE `+
		strings.Join(where, " AND ")+` ORDER BY deleted, seq DESC LIMIT 8`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: find %s: %w", ep.Kind, err)
	}
	defer rows.Close()
	var out []SeqRow
	for rows.Next() {
		var r SeqRow
		if err := rows.Scan(&r.Key, &r.Props, &r.Deleted, &r.Seq, &r.FirstSeq); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Get returns the resource with key (tombstones included) and its
// sequence numbers.
func (m *MobileTx) Get(ctx context.Context, ep Endpoint, key string) (Resource, SeqRow, error) {
	var id int64
	r, err := scanResourceWithID(m.tx.QueryRowContext(ctx, `SELECT r.id, `+resourceCols+resourceFrom+`WHERE r.endpoint_id = ? AND r.key = ?`, ep.ID, key), &id)
	if errors.Is(err, sql.ErrNoRows) {
		return Resource{}, SeqRow{}, ErrNotFound
	}
	if err != nil {
		return Resource{}, SeqRow{}, fmt.Errorf("store: get %s: %w", ep.Kind, err)
	}
	sr := SeqRow{Key: r.Key, Props: r.Props, Deleted: r.Deleted}
	if err := m.tx.QueryRowContext(ctx, `SELECT seq, first_seq FROM resources WHERE id = ?`, id).Scan(&sr.Seq, &sr.FirstSeq); err != nil {
		return Resource{}, SeqRow{}, fmt.Errorf("store: get %s: %w", ep.Kind, err)
	}
	return r, sr, nil
}

// Row returns the resource with key as device sync reads it.
func (m *MobileTx) Row(ctx context.Context, ep Endpoint, key string) (SeqRow, error) {
	r, err := m.seqOf(ctx, ep, key)
	if errors.Is(err, sql.ErrNoRows) {
		return SeqRow{}, ErrNotFound
	}
	return r, err
}

func (m *MobileTx) seqOf(ctx context.Context, ep Endpoint, key string) (SeqRow, error) {
	var r SeqRow
	err := m.tx.QueryRowContext(ctx, `SELECT key, props, deleted, seq, first_seq FROM resources WHERE endpoint_id = ? AND key = ?`, ep.ID, key).
		Scan(&r.Key, &r.Props, &r.Deleted, &r.Seq, &r.FirstSeq)
	if err != nil {
		return SeqRow{}, fmt.Errorf("store: read back %s: %w", ep.Kind, err)
	}
	return r, nil
}

func (m *MobileTx) mustWrite() error {
	if !m.write {
		return errors.New("store: write in a read-only device sync transaction")
	}
	return nil
}

// Create stores a new resource as a local change of the provider (a tick,
// the own digest entry advanced) and returns it with its sequence numbers.
func (m *MobileTx) Create(ctx context.Context, ep Endpoint, w Write) (Resource, SeqRow, error) {
	if err := m.mustWrite(); err != nil {
		return Resource{}, SeqRow{}, err
	}
	key := w.Key
	if key == "" {
		var err error
		if key, err = allocKey(ctx, m.tx, ep); err != nil {
			return Resource{}, SeqRow{}, err
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	nid, tick, err := tickLocal(ctx, m.tx, ep, now)
	if err != nil {
		return Resource{}, SeqRow{}, err
	}
	r := Resource{Key: key, UUID: strings.ToLower(w.UUID), Payload: w.Payload, Props: props(w.Props), Title: w.Title,
		Change: Created, State: digest.SyncState{Endpoint: ep.URL, Tick: tick, Stamp: now, User: w.User}, Created: now, Updated: now}
	r.ETag = etag(r.Payload, false, r.State)
	seq, err := nextSeq(ctx, m.tx)
	if err != nil {
		return Resource{}, SeqRow{}, err
	}
	if err := insertResource(ctx, m.tx, ep, nid, &r, noCtx, seq, nil); err != nil {
		return Resource{}, SeqRow{}, err
	}
	sr, err := m.seqOf(ctx, ep, key)
	return r, sr, err
}

// Put writes new content into the resource with key as a local change: an
// update of a live resource, or the revival of a tombstone (a create).
func (m *MobileTx) Put(ctx context.Context, ep Endpoint, key string, w Write) (Resource, SeqRow, error) {
	if err := m.mustWrite(); err != nil {
		return Resource{}, SeqRow{}, err
	}
	cur, err := getResource(ctx, m.tx, ep, "key", key)
	if err != nil {
		return Resource{}, SeqRow{}, err
	}
	r := cur
	change := Updated
	if cur.Deleted {
		change = Created
	}
	r.Deleted = false
	r.Payload, r.Props, r.Title = w.Payload, props(w.Props), w.Title
	if err := recordLocal(ctx, m.tx, ep, &r, change, w.User); err != nil {
		return Resource{}, SeqRow{}, err
	}
	sr, err := m.seqOf(ctx, ep, key)
	return r, sr, err
}

// Delete turns the live resource with key into a tombstone as a local
// change.
func (m *MobileTx) Delete(ctx context.Context, ep Endpoint, key, user string) (Resource, SeqRow, error) {
	if err := m.mustWrite(); err != nil {
		return Resource{}, SeqRow{}, err
	}
	cur, err := getResource(ctx, m.tx, ep, "key", key)
	if err != nil {
		return Resource{}, SeqRow{}, err
	}
	if cur.Deleted {
		return Resource{}, SeqRow{}, ErrNotFound
	}
	r := cur
	r.Deleted = true
	if err := recordLocal(ctx, m.tx, ep, &r, Deleted, user); err != nil {
		return Resource{}, SeqRow{}, err
	}
	sr, err := m.seqOf(ctx, ep, key)
	return r, sr, err
}

// Audit appends records to the audit log in this transaction.
func (m *MobileTx) Audit(ctx context.Context, recs ...AuditRecord) error {
	if err := m.mustWrite(); err != nil {
		return err
	}
	return insertAudit(ctx, m.tx, recs)
}

// Mobile is what device sync needs of a store; SQLite implements it.
type Mobile interface {
	MobileWrite(ctx context.Context, fn func(m *MobileTx) error) error
	MobileRead(ctx context.Context, fn func(m *MobileTx) error) error
	EnsurePropIndex(ctx context.Context, names []string) error
	MobileComponents(ctx context.Context) ([]MobileComponent, error)
	MobileComponentByAlias(ctx context.Context, alias string) (MobileComponent, error)
	PutMobileComponent(ctx context.Context, alias string, config []byte, reset bool) error
	DeleteMobileComponent(ctx context.Context, alias string) error
	MobileKeys(ctx context.Context) ([]MobileKey, error)
	RotateMobileKey(ctx context.Context, retireOld bool) (int64, error)
	MobileDevices(ctx context.Context, q DeviceQuery) ([]MobileDevice, int, error)
	MarkDevice(ctx context.Context, alias, device string, status int, at time.Time) error
}

var _ Mobile = (*SQLite)(nil)
