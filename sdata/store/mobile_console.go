package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The console's view of the device registry: the most recent syncs first,
// one page at a time, each page read through an index (migration "device
// registry indexes": by last sync, by component, by user, by device) from
// where the previous page stopped (a cursor, not an offset), so that a page
// costs the same on a registry of ten thousand devices as on one of ten.

// ConsoleDeviceQuery selects a page of the device registry, newest sync
// first. Alias, User and Device filter when set (exact values); After is
// the cursor of the previous page's last row ("" for the first page).
type ConsoleDeviceQuery struct {
	Alias, User, Device string
	After               string
	Limit               int
}

// ErrBadCursor is returned for a cursor this store did not make.
var ErrBadCursor = errors.New("store: not a device registry cursor")

// deviceCursor is the position of a row in the console's order.
type deviceCursor struct {
	LastSync string `json:"t"`
	Alias    string `json:"a"`
	Device   string `json:"d"`
}

func (c deviceCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeDeviceCursor(s string) (deviceCursor, error) {
	var c deviceCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.LastSync == "" || c.Alias == "" || c.Device == "" {
		return deviceCursor{}, ErrBadCursor
	}
	return c, nil
}

// deviceOrder is the console's order: last sync, newest first; ties by
// component and device (descending too, so that one index serves it).
const deviceOrder = ` ORDER BY last_sync DESC, alias DESC, device DESC`

// consoleDeviceSQL builds the page query of q: the filters, then the
// cursor as a row-value comparison the index range starts from.
func consoleDeviceSQL(q ConsoleDeviceQuery, limit int) (string, []any, error) {
	var where []string
	var args []any
	for _, f := range []struct{ col, val string }{{"alias", q.Alias}, {"user", q.User}, {"device", q.Device}} {
		if f.val != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.val)
		}
	}
	if q.After != "" {
		c, err := decodeDeviceCursor(q.After)
		if err != nil {
			return "", nil, err
		}
		where = append(where, "(last_sync, alias, device) < (?, ?, ?)")
		args = append(args, c.LastSync, c.Alias, c.Device)
	}
	query := `SELECT alias, device, user, app, app_version, first_sync, last_sync, last_status, version_seq, responses, syncs FROM mobile_devices`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	return query + deviceOrder + ` LIMIT ?`, append(args, limit), nil
}

// ConsoleDevices returns a page of the device registry in the console's
// order and the cursor of the next page ("" when this page is the last).
// A cursor that is not one of ours is ErrBadCursor.
func (s *SQLite) ConsoleDevices(ctx context.Context, q ConsoleDeviceQuery) ([]MobileDevice, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	query, args, err := consoleDeviceSQL(q, limit+1)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: device registry: %w", err)
	}
	defer rows.Close()
	var out []MobileDevice
	var last []string // the stored stamps, for the cursor
	for rows.Next() {
		var d MobileDevice
		var first, lastSync string
		if err := rows.Scan(&d.Alias, &d.Device, &d.User, &d.App, &d.AppVersion, &first, &lastSync, &d.LastStatus, &d.VersionSeq,
			&d.Responses, &d.Syncs); err != nil {
			return nil, "", fmt.Errorf("store: device registry: %w", err)
		}
		d.FirstSync, d.LastSync = parseStamp(first), parseStamp(lastSync)
		out = append(out, d)
		last = append(last, lastSync)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: device registry: %w", err)
	}
	if len(out) <= limit {
		return out, "", nil
	}
	out = out[:limit]
	d := out[limit-1]
	return out, deviceCursor{LastSync: last[limit-1], Alias: d.Alias, Device: d.Device}.encode(), nil
}
