package store

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RegistryEntry is one endpoint of the SData registry (core 14): either an
// endpoint an application registered (stored, with a numeric key) or, in
// RegistryList, one of the caller's built-in endpoints.
type RegistryEntry struct {
	Key     string // "1", "2", ... for registered endpoints; the caller's key for built-in ones
	URL     string // the endpoint URL, unique among registered endpoints
	ETag    string
	Payload []byte // XML of the registry endpoint element
	Props   []byte // JSON object of the simple properties, for queries
	Title   string
	BuiltIn bool // a built-in (read-only) entry supplied to RegistryList
	Created time.Time
	Updated time.Time
}

// RegistryWrite is the content of a registry create or update.
type RegistryWrite struct {
	URL     string
	Payload []byte
	Props   []byte
	Title   string
}

// The registry table is aliased r in queries, like resources, so that the
// query compiler's json_extract(r.props, ...) expressions apply to both.
const registryCols = `r.key, r.url, r.etag, r.payload, r.props, r.title, r.builtin, r.created, r.updated`

func scanRegistry(sc scanner) (RegistryEntry, error) {
	var e RegistryEntry
	var props, created, updated string
	var builtin int
	if err := sc.Scan(&e.Key, &e.URL, &e.ETag, &e.Payload, &props, &e.Title, &builtin, &created, &updated); err != nil {
		return RegistryEntry{}, err
	}
	e.Props = []byte(props)
	e.BuiltIn = builtin != 0
	e.Created = parseStamp(created)
	e.Updated = parseStamp(updated)
	return e, nil
}

// registryETag derives an entity tag from the payload and the row version,
// so that every write changes it.
func registryETag(payload []byte, version int64) string {
	h := md5.New()
	h.Write(payload)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(version))
	h.Write(b[:])
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// RegistryETag is the entity tag of a built-in registry entry's payload.
func RegistryETag(payload []byte) string { return registryETag(payload, 0) }

func getRegistry(ctx context.Context, q queryer, key string) (RegistryEntry, int64, error) {
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil || id < 1 || strconv.FormatInt(id, 10) != key {
		return RegistryEntry{}, 0, ErrNotFound
	}
	var e RegistryEntry
	var props, created, updated string
	var version int64
	err = q.QueryRowContext(ctx, `SELECT url, etag, payload, props, title, version, created, updated
		FROM registry_endpoints WHERE id = ?`, id).Scan(&e.URL, &e.ETag, &e.Payload, &props, &e.Title, &version, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return RegistryEntry{}, 0, ErrNotFound
	}
	if err != nil {
		return RegistryEntry{}, 0, fmt.Errorf("store: registry get: %w", err)
	}
	e.Key, e.Props = key, []byte(props)
	e.Created, e.Updated = parseStamp(created), parseStamp(updated)
	return e, version, nil
}

// registryID is the row id of a key getRegistry accepted.
func registryID(key string) int64 {
	id, _ := strconv.ParseInt(key, 10, 64)
	return id
}

// RegistryGet returns the registered endpoint with key.
func (s *SQLite) RegistryGet(ctx context.Context, key string) (RegistryEntry, error) {
	e, _, err := getRegistry(ctx, s.r, key)
	return e, err
}

// RegistryList implements Store: builtin entries come first (in the order
// given) and take part in filtering, ordering and paging like stored ones.
func (s *SQLite) RegistryList(ctx context.Context, builtin []RegistryEntry, q ListQuery) ([]RegistryEntry, int, error) {
	var src strings.Builder
	var args []any
	src.WriteString(`WITH r (key, url, etag, payload, props, title, builtin, created, updated, seq) AS (`)
	for i, b := range builtin {
		src.WriteString(`SELECT ?, ?, ?, ?, ?, ?, 1, ?, ?, ? UNION ALL `)
		args = append(args, b.Key, b.URL, b.ETag, b.Payload, string(props(b.Props)), b.Title,
			fmtStamp(b.Created), fmtStamp(b.Updated), i-len(builtin))
	}
	src.WriteString(`SELECT CAST(id AS TEXT), url, etag, payload, props, title, 0, created, updated, id FROM registry_endpoints) `)
	where := `1`
	if q.Where != "" {
		where = `(` + q.Where + `)`
		args = append(args, q.Args...)
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("store: registry list: %w", err)
	}
	defer tx.Rollback() // one read transaction: count and page see the same snapshot
	var total int
	if err := tx.QueryRowContext(ctx, src.String()+`SELECT count(*) FROM r WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: registry list: %w", err)
	}
	order := `r.seq`
	if q.OrderBy != "" {
		order = q.OrderBy + `, r.seq`
	}
	limit := q.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := tx.QueryContext(ctx, src.String()+`SELECT `+registryCols+` FROM r WHERE `+where+` ORDER BY `+order+` LIMIT ? OFFSET ?`,
		append(args, limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: registry list: %w", err)
	}
	defer rows.Close()
	var out []RegistryEntry
	for rows.Next() {
		e, err := scanRegistry(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("store: registry list: %w", err)
		}
		out = append(out, e)
	}
	return out, total, rows.Err()
}

// RegistryCreate implements Store.
func (s *SQLite) RegistryCreate(ctx context.Context, w RegistryWrite) (RegistryEntry, error) {
	var out RegistryEntry
	err := s.write(ctx, func(tx *sql.Tx) error {
		now := time.Now().UTC().Truncate(time.Millisecond)
		etag := registryETag(w.Payload, 1)
		var id int64
		err := tx.QueryRowContext(ctx, `INSERT INTO registry_endpoints (url, etag, payload, props, title, version, created, updated)
			VALUES (?,?,?,?,?,1,?,?) RETURNING id`, w.URL, etag, w.Payload, string(props(w.Props)), w.Title, fmtStamp(now), fmtStamp(now)).Scan(&id)
		if isUnique(err) {
			return fmt.Errorf("%w: an endpoint with url %s is already registered", ErrConflict, w.URL)
		}
		if err != nil {
			return fmt.Errorf("store: registry create: %w", err)
		}
		out = RegistryEntry{Key: strconv.FormatInt(id, 10), URL: w.URL, ETag: etag, Payload: w.Payload,
			Props: props(w.Props), Title: w.Title, Created: now, Updated: now}
		return nil
	})
	return out, err
}

// RegistryUpdate implements Store.
func (s *SQLite) RegistryUpdate(ctx context.Context, key string, mutate func(cur RegistryEntry) (RegistryWrite, error)) (RegistryEntry, error) {
	var out RegistryEntry
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, version, err := getRegistry(ctx, tx, key)
		if err != nil {
			return err
		}
		w, err := mutate(cur)
		if err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		version++
		etag := registryETag(w.Payload, version)
		_, err = tx.ExecContext(ctx, `UPDATE registry_endpoints SET url = ?, etag = ?, payload = ?, props = ?, title = ?, version = ?, updated = ?
			WHERE id = ?`, w.URL, etag, w.Payload, string(props(w.Props)), w.Title, version, fmtStamp(now), registryID(key))
		if isUnique(err) {
			return fmt.Errorf("%w: an endpoint with url %s is already registered", ErrConflict, w.URL)
		}
		if err != nil {
			return fmt.Errorf("store: registry update: %w", err)
		}
		out = RegistryEntry{Key: cur.Key, URL: w.URL, ETag: etag, Payload: w.Payload, Props: props(w.Props),
			Title: w.Title, Created: cur.Created, Updated: now}
		return nil
	})
	return out, err
}

// RegistryDelete implements Store.
func (s *SQLite) RegistryDelete(ctx context.Context, key string, check func(cur RegistryEntry) error) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		cur, _, err := getRegistry(ctx, tx, key)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(cur); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM registry_endpoints WHERE id = ?`, registryID(key)); err != nil {
			return fmt.Errorf("store: registry delete: %w", err)
		}
		return nil
	})
}
