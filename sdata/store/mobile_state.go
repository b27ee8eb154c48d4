package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The persistent state of device sync: mobile sync components (their
// configuration as a JSON document the mobile package owns), the keys that
// seal versions, the device registry, and per device the rows it holds.

// MobileComponent is one stored mobile sync component.
type MobileComponent struct {
	Alias   string
	Config  []byte // JSON, as package mobile writes it
	Created time.Time
	Updated time.Time
}

// MobileComponents lists the stored components by alias.
func (s *SQLite) MobileComponents(ctx context.Context) ([]MobileComponent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT alias, config, created, updated FROM mobile_components ORDER BY alias`)
	if err != nil {
		return nil, fmt.Errorf("store: components: %w", err)
	}
	defer rows.Close()
	var out []MobileComponent
	for rows.Next() {
		var c MobileComponent
		var created, updated string
		if err := rows.Scan(&c.Alias, &c.Config, &created, &updated); err != nil {
			return nil, err
		}
		c.Created, c.Updated = parseStamp(created), parseStamp(updated)
		out = append(out, c)
	}
	return out, rows.Err()
}

// MobileComponentByAlias returns the stored component with alias.
func (s *SQLite) MobileComponentByAlias(ctx context.Context, alias string) (MobileComponent, error) {
	c := MobileComponent{Alias: alias}
	var created, updated string
	err := s.r.QueryRowContext(ctx, `SELECT config, created, updated FROM mobile_components WHERE alias = ?`, alias).Scan(&c.Config, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return MobileComponent{}, ErrNotFound
	}
	if err != nil {
		return MobileComponent{}, fmt.Errorf("store: component: %w", err)
	}
	c.Created, c.Updated = parseStamp(created), parseStamp(updated)
	return c, nil
}

// ForgetDevice drops what device holds of alias's rows (a full download
// starts it over).
func (m *MobileTx) ForgetDevice(ctx context.Context, alias, device string) error {
	if err := m.mustWrite(); err != nil {
		return err
	}
	for _, t := range []string{"mobile_held", "mobile_pending"} {
		if _, err := m.tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE alias = ? AND device = ?`, alias, device); err != nil {
			return fmt.Errorf("store: forget device rows: %w", err)
		}
	}
	return nil
}

// PutMobileComponent creates or replaces a component. When reset is true
// (its dataset, kind or row identifiers changed) what its devices hold is
// forgotten: their versions are stale anyway.
func (s *SQLite) PutMobileComponent(ctx context.Context, alias string, config []byte, reset bool) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		now := fmtStamp(time.Now())
		if _, err := tx.ExecContext(ctx, `INSERT INTO mobile_components (alias, config, created, updated) VALUES (?,?,?,?)
			ON CONFLICT (alias) DO UPDATE SET config = excluded.config, updated = excluded.updated`, alias, string(config), now, now); err != nil {
			return fmt.Errorf("store: put component: %w", err)
		}
		if reset {
			return forgetHeld(ctx, tx, alias)
		}
		return nil
	})
}

// DeleteMobileComponent removes a component and what its devices hold (the
// registry keeps the devices). ErrNotFound when there is none.
func (s *SQLite) DeleteMobileComponent(ctx context.Context, alias string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM mobile_components WHERE alias = ?`, alias)
		if err != nil {
			return fmt.Errorf("store: delete component: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return forgetHeld(ctx, tx, alias)
	})
}

func forgetHeld(ctx context.Context, tx *sql.Tx, alias string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM mobile_held WHERE alias = ?`, alias); err != nil {
		return fmt.Errorf("store: forget held rows: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM mobile_pending WHERE alias = ?`, alias); err != nil {
		return fmt.Errorf("store: forget pending rows: %w", err)
	}
	return nil
}

// MobileKey is a key that seals device versions.
type MobileKey struct {
	ID     int64
	Secret []byte
}

// MobileKeys returns the version keys that are not retired, newest first,
// creating the first one when there is none.
func (s *SQLite) MobileKeys(ctx context.Context) ([]MobileKey, error) {
	keys, err := s.mobileKeys(ctx)
	if err != nil || len(keys) > 0 {
		return keys, err
	}
	if _, err := s.RotateMobileKey(ctx, false); err != nil {
		return nil, err
	}
	return s.mobileKeys(ctx)
}

func (s *SQLite) mobileKeys(ctx context.Context) ([]MobileKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, secret FROM mobile_keys WHERE retired = '' ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: version keys: %w", err)
	}
	defer rows.Close()
	var out []MobileKey
	for rows.Next() {
		var k MobileKey
		if err := rows.Scan(&k.ID, &k.Secret); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RotateMobileKey adds a new version key (new versions are sealed with it;
// versions sealed with the older keys still open) and, with retireOld,
// retires every older key (their versions no longer open).
func (s *SQLite) RotateMobileKey(ctx context.Context, retireOld bool) (int64, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return 0, err
	}
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		now := fmtStamp(time.Now())
		if retireOld {
			if _, err := tx.ExecContext(ctx, `UPDATE mobile_keys SET retired = ? WHERE retired = ''`, now); err != nil {
				return err
			}
		}
		return tx.QueryRowContext(ctx, `INSERT INTO mobile_keys (secret, created) VALUES (?, ?) RETURNING id`, secret, now).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("store: rotate version key: %w", err)
	}
	return id, nil
}

// MobileDevice is one row of the device registry: a device's use of one
// component.
type MobileDevice struct {
	Alias      string
	Device     string
	User       string
	App        string
	AppVersion string
	FirstSync  time.Time
	LastSync   time.Time
	LastStatus int   // the statusCode of its last sync
	VersionSeq int64 // the change sequence number of the version it holds
	Responses  int64 // responses sent (the number of the latest)
	Syncs      int64
	Acked      int64 // the number of the last response the device acknowledged
}

// Device returns the registry row of device for alias.
func (m *MobileTx) Device(ctx context.Context, alias, device string) (MobileDevice, error) {
	var d MobileDevice
	var first, last string
	err := m.tx.QueryRowContext(ctx, `SELECT alias, device, user, app, app_version, first_sync, last_sync, last_status, version_seq, responses, syncs, acked
		FROM mobile_devices WHERE alias = ? AND device = ?`, alias, device).
		Scan(&d.Alias, &d.Device, &d.User, &d.App, &d.AppVersion, &first, &last, &d.LastStatus, &d.VersionSeq, &d.Responses, &d.Syncs, &d.Acked)
	if errors.Is(err, sql.ErrNoRows) {
		return MobileDevice{}, ErrNotFound
	}
	if err != nil {
		return MobileDevice{}, fmt.Errorf("store: device: %w", err)
	}
	d.FirstSync, d.LastSync = parseStamp(first), parseStamp(last)
	return d, nil
}

// PutDevice creates or replaces the registry row of d.Device for d.Alias
// (FirstSync is kept when the row exists).
func (m *MobileTx) PutDevice(ctx context.Context, d MobileDevice) error {
	if err := m.mustWrite(); err != nil {
		return err
	}
	_, err := m.tx.ExecContext(ctx, `INSERT INTO mobile_devices (alias, device, user, app, app_version, first_sync, last_sync, last_status, version_seq, responses, syncs, acked)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (alias, device) DO UPDATE SET user = excluded.user, app = excluded.app,
		app_version = excluded.app_version, last_sync = excluded.last_sync, last_status = excluded.last_status,
		version_seq = excluded.version_seq, responses = excluded.responses, syncs = excluded.syncs, acked = excluded.acked`,
		d.Alias, d.Device, d.User, d.App, d.AppVersion, fmtStamp(d.FirstSync), fmtStamp(d.LastSync), d.LastStatus, d.VersionSeq, d.Responses, d.Syncs, d.Acked)
	if err != nil {
		return fmt.Errorf("store: put device: %w", err)
	}
	return nil
}

// MarkDevice records the time and statusCode of a refused or failed sync
// of a registered device (nothing else of its row changes; an unknown
// device is not registered by it).
func (s *SQLite) MarkDevice(ctx context.Context, alias, device string, status int, at time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE mobile_devices SET last_sync = ?, last_status = ? WHERE alias = ? AND device = ?`,
			fmtStamp(at), status, alias, device)
		return err
	})
}

// DeviceQuery filters the device registry; empty fields do not filter.
type DeviceQuery struct {
	Alias, Device, User string
	Offset, Limit       int
}

// MobileDevices returns one page of the device registry (by alias, then
// device) and the total.
func (s *SQLite) MobileDevices(ctx context.Context, q DeviceQuery) ([]MobileDevice, int, error) {
	where := ` WHERE (? = '' OR alias = ?) AND (? = '' OR device = ?) AND (? = '' OR user = ?)`
	args := []any{q.Alias, q.Alias, q.Device, q.Device, q.User, q.User}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM mobile_devices`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: devices: %w", err)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := tx.QueryContext(ctx, `SELECT alias, device, user, app, app_version, first_sync, last_sync, last_status, version_seq, responses, syncs
		FROM mobile_devices`+where+` ORDER BY alias, device LIMIT ? OFFSET ?`, append(args, limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: devices: %w", err)
	}
	defer rows.Close()
	var out []MobileDevice
	for rows.Next() {
		var d MobileDevice
		var first, last string
		if err := rows.Scan(&d.Alias, &d.Device, &d.User, &d.App, &d.AppVersion, &first, &last, &d.LastStatus, &d.VersionSeq, &d.Responses, &d.Syncs); err != nil {
			return nil, 0, err
		}
		d.FirstSync, d.LastSync = parseStamp(first), parseStamp(last)
		out = append(out, d)
	}
	return out, total, rows.Err()
}

// HeldRow is what a device holds of one resource (storeBusinessData): the
// record last sent to it or received from it, and the change sequence
// number of the server version it equals (0: the device's own content,
// which is no server version).
type HeldRow struct {
	Key     string
	Seq     int64
	Deleted bool
	Record  []byte // JSON object of the simple properties
}

// Held returns what device holds of the resource with key (ok false: it
// holds nothing of it).
func (m *MobileTx) Held(ctx context.Context, alias, device, key string) (HeldRow, bool, error) {
	h := HeldRow{Key: key}
	err := m.tx.QueryRowContext(ctx, `SELECT seq, deleted, record FROM mobile_held WHERE alias = ? AND device = ? AND key = ?`,
		alias, device, key).Scan(&h.Seq, &h.Deleted, &h.Record)
	if errors.Is(err, sql.ErrNoRows) {
		return HeldRow{}, false, nil
	}
	if err != nil {
		return HeldRow{}, false, fmt.Errorf("store: held row: %w", err)
	}
	return h, true, nil
}

// HoldsAny reports whether device holds any row of alias (a device that
// holds none needs no lookups).
func (m *MobileTx) HoldsAny(ctx context.Context, alias, device string) (bool, error) {
	var one int
	err := m.tx.QueryRowContext(ctx, `SELECT 1 FROM mobile_held WHERE alias = ? AND device = ? LIMIT 1`, alias, device).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: held rows: %w", err)
	}
	return true, nil
}

// PutHeld records what device now holds of a resource.
func (m *MobileTx) PutHeld(ctx context.Context, alias, device string, h HeldRow) error {
	if err := m.mustWrite(); err != nil {
		return err
	}
	_, err := m.tx.ExecContext(ctx, `INSERT INTO mobile_held (alias, device, key, seq, deleted, record) VALUES (?,?,?,?,?,?)
		ON CONFLICT (alias, device, key) DO UPDATE SET seq = excluded.seq, deleted = excluded.deleted, record = excluded.record`,
		alias, device, h.Key, h.Seq, h.Deleted, string(h.Record))
	if err != nil {
		return fmt.Errorf("store: put held row: %w", err)
	}
	return nil
}

// UnconfirmedHeld lists the keys of the rows device holds in a version of
// its own (seq 0: a change whose answer it has not acknowledged).
func (m *MobileTx) UnconfirmedHeld(ctx context.Context, alias, device string) ([]string, error) {
	rows, err := m.tx.QueryContext(ctx, `SELECT key FROM mobile_held WHERE alias = ? AND device = ? AND seq = 0`, alias, device)
	if err != nil {
		return nil, fmt.Errorf("store: unconfirmed rows: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// AddPending records a row sent in response number resp, which counts as
// held only once the device acknowledges that response (AckResponse).
func (m *MobileTx) AddPending(ctx context.Context, alias, device string, resp int64, h HeldRow) error {
	if err := m.mustWrite(); err != nil {
		return err
	}
	_, err := m.tx.ExecContext(ctx, `INSERT INTO mobile_pending (alias, device, response, key, seq, deleted, record) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT (alias, device, response, key) DO UPDATE SET seq = excluded.seq, deleted = excluded.deleted, record = excluded.record`,
		alias, device, resp, h.Key, h.Seq, h.Deleted, string(h.Record))
	if err != nil {
		return fmt.Errorf("store: pending row: %w", err)
	}
	return nil
}

// LostWrites settles the rows a device wrote without a store of what it
// holds (components without storeBusinessData): the rows of responses up
// to resp, which its request proves it received, are dropped; it returns
// the keys of the rows written in later responses (lost ones: the device
// holds its own version of them).
func (m *MobileTx) LostWrites(ctx context.Context, alias, device string, resp int64) (map[string]bool, error) {
	if err := m.mustWrite(); err != nil {
		return nil, err
	}
	if _, err := m.tx.ExecContext(ctx, `DELETE FROM mobile_pending WHERE alias = ? AND device = ? AND response <= ?`, alias, device, resp); err != nil {
		return nil, fmt.Errorf("store: settle writes: %w", err)
	}
	rows, err := m.tx.QueryContext(ctx, `SELECT DISTINCT key FROM mobile_pending WHERE alias = ? AND device = ?`, alias, device)
	if err != nil {
		return nil, fmt.Errorf("store: lost writes: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		out[k] = true
	}
	return out, rows.Err()
}

// AckResponse settles the responses of device: the rows of response resp
// (which the device's request proves it received; 0: none) become held,
// and the rows of every other response sent before are dropped (those
// responses were lost). It returns how many rows became held.
func (m *MobileTx) AckResponse(ctx context.Context, alias, device string, resp int64) (int64, error) {
	if err := m.mustWrite(); err != nil {
		return 0, err
	}
	var n int64
	if resp > 0 {
		res, err := m.tx.ExecContext(ctx, `INSERT INTO mobile_held (alias, device, key, seq, deleted, record)
			SELECT alias, device, key, seq, deleted, record FROM mobile_pending WHERE alias = ? AND device = ? AND response = ? AND true
			ON CONFLICT (alias, device, key) DO UPDATE SET seq = excluded.seq, deleted = excluded.deleted, record = excluded.record`,
			alias, device, resp)
		if err != nil {
			return 0, fmt.Errorf("store: acknowledge response: %w", err)
		}
		n, _ = res.RowsAffected()
	}
	if _, err := m.tx.ExecContext(ctx, `DELETE FROM mobile_pending WHERE alias = ? AND device = ?`, alias, device); err != nil {
		return 0, fmt.Errorf("store: acknowledge response: %w", err)
	}
	return n, nil
}
