package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// UUID policy. A resource has no UUID until it is linked or first
// synchronized. Linking it to a UUID other than the one it has makes the new
// UUID primary and keeps the old one as an alias: both resolve to the
// resource (GetByUUID, incoming sync entries), sync feeds carry the primary
// with the aliases in an extension attribute, so that other providers of
// ours re-key the same resource instead of creating a twin. Aliases are
// retired by RetireAliases once older than the retention the operator
// chooses (the server's default is 30 days): by then every pass has carried
// the new primary UUID to the other endpoints.

// resolveUUID finds the resource id and primary UUID answering to u,
// through aliases too.
func resolveUUID(ctx context.Context, q queryer, ep Endpoint, u string) (id int64, primary string, err error) {
	return resolveUUIDIn(ctx, q, ep, u, true)
}

// resolveUUIDIn is resolveUUID that consults the aliases only when told
// the endpoint may have some.
func resolveUUIDIn(ctx context.Context, q queryer, ep Endpoint, u string, aliases bool) (id int64, primary string, err error) {
	u = strings.ToLower(u)
	var p sql.NullString
	err = q.QueryRowContext(ctx, `SELECT id, uuid FROM resources WHERE endpoint_id = ? AND uuid = ?`, ep.ID, u).Scan(&id, &p)
	if err == nil {
		return id, p.String, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, "", err
	}
	if !aliases {
		return 0, "", ErrNotFound
	}
	// No JOIN (it would be re-prepared at every call; see resourceCols).
	err = q.QueryRowContext(ctx, `SELECT r.id, r.uuid FROM resources r
		WHERE r.id = (SELECT a.resource_id FROM uuid_aliases a WHERE a.endpoint_id = ? AND a.alias = ?)`, ep.ID, u).Scan(&id, &p)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", ErrNotFound
	}
	return id, p.String, err
}

// Aliases returns the aliases of the resource with key, oldest first.
func (s *SQLite) Aliases(ctx context.Context, ep Endpoint, key string) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT a.alias FROM uuid_aliases a JOIN resources r ON r.id = a.resource_id
		WHERE r.endpoint_id = ? AND r.key = ? ORDER BY a.created, a.alias`, ep.ID, key)
	if err != nil {
		return nil, fmt.Errorf("store: aliases: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// setPrimaryUUID makes u the primary UUID of resource id (whose current
// primary is cur); the old primary becomes an alias. u must not name
// another resource.
func setPrimaryUUID(ctx context.Context, tx *sql.Tx, ep Endpoint, id int64, cur, u string, now time.Time) error {
	u = strings.ToLower(u)
	if cur == u {
		return nil
	}
	if oid, _, err := resolveUUID(ctx, tx, ep, u); err == nil && oid != id {
		return fmt.Errorf("%w: UUID %s already names another %s", ErrConflict, u, ep.Kind)
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	// u may be one of this resource's own aliases: it stops being one.
	if _, err := tx.ExecContext(ctx, `DELETE FROM uuid_aliases WHERE endpoint_id = ? AND alias = ?`, ep.ID, u); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE resources SET uuid = ? WHERE id = ?`, u, id); err != nil {
		return err
	}
	if cur != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO uuid_aliases (endpoint_id, alias, resource_id, created) VALUES (?,?,?,?)
			ON CONFLICT (endpoint_id, alias) DO NOTHING`, ep.ID, cur, id, fmtStamp(now)); err != nil {
			return err
		}
	}
	return nil
}

// Link gives the live resource with key the UUID u. A different UUID it had
// becomes an alias. The change is a local write: it takes a tick, so the new
// UUID travels with the next pass. A UUID that names another resource is
// ErrConflict.
func (s *SQLite) Link(ctx context.Context, ep Endpoint, key, u, user string) (Resource, error) {
	var out Resource
	err := s.write(ctx, func(tx *sql.Tx) error {
		var id int64
		var cur sql.NullString
		var deleted int
		err := tx.QueryRowContext(ctx, `SELECT id, uuid, deleted FROM resources WHERE endpoint_id = ? AND key = ?`, ep.ID, key).Scan(&id, &cur, &deleted)
		if errors.Is(err, sql.ErrNoRows) || deleted != 0 {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		if cur.String == strings.ToLower(u) {
			out, err = getResource(ctx, tx, ep, "key", key)
			return err
		}
		if err := setPrimaryUUID(ctx, tx, ep, id, cur.String, u, now); err != nil {
			return err
		}
		return touchLocal(ctx, tx, ep, key, user, &out)
	})
	return out, err
}

// touchLocal records a local change of the resource with key that does not
// change its payload (a new primary UUID): a fresh tick and ETag.
func touchLocal(ctx context.Context, tx *sql.Tx, ep Endpoint, key, user string, out *Resource) error {
	r, err := getResource(ctx, tx, ep, "key", key)
	if err != nil {
		return err
	}
	if err := recordLocal(ctx, tx, ep, &r, Updated, user); err != nil {
		return err
	}
	*out = r
	return nil
}

// Unlink removes the correlation named by u (a primary UUID): the resource
// stays, without UUID or aliases. It is not a change of the resource: no tick.
func (s *SQLite) Unlink(ctx context.Context, ep Endpoint, u string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM resources WHERE endpoint_id = ? AND uuid = ? AND deleted = 0`, ep.ID, strings.ToLower(u)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE resources SET uuid = NULL WHERE id = ?`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM uuid_aliases WHERE resource_id = ?`, id)
		return err
	})
}

// Relink moves the link u to the live resource with key: the resource that
// held u loses it, the new holder takes u as primary (its old UUID becomes an
// alias) with a local tick.
func (s *SQLite) Relink(ctx context.Context, ep Endpoint, u, key, user string) (Resource, error) {
	var out Resource
	err := s.write(ctx, func(tx *sql.Tx) error {
		u = strings.ToLower(u)
		var holder int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM resources WHERE endpoint_id = ? AND uuid = ?`, ep.ID, u).Scan(&holder)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		var id int64
		var cur sql.NullString
		var deleted int
		err = tx.QueryRowContext(ctx, `SELECT id, uuid, deleted FROM resources WHERE endpoint_id = ? AND key = ?`, ep.ID, key).Scan(&id, &cur, &deleted)
		if errors.Is(err, sql.ErrNoRows) || deleted != 0 {
			return fmt.Errorf("%w: no live %s with key %q", ErrNotFound, ep.Kind, key)
		}
		if err != nil {
			return err
		}
		if id == holder {
			out, err = getResource(ctx, tx, ep, "key", key)
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE resources SET uuid = NULL WHERE id = ?`, holder); err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		if err := setPrimaryUUID(ctx, tx, ep, id, cur.String, u, now); err != nil {
			return err
		}
		return touchLocal(ctx, tx, ep, key, user, &out)
	})
	return out, err
}

// Linked returns one page of the live resources that have a UUID, and their total.
func (s *SQLite) Linked(ctx context.Context, ep Endpoint, offset, limit int) ([]Resource, int, error) {
	return s.List(ctx, ep, ListQuery{Where: `r.uuid IS NOT NULL`, Offset: offset, Limit: limit})
}

// RetireAliases deletes aliases created before cutoff and returns how many.
func (s *SQLite) RetireAliases(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM uuid_aliases WHERE created < ?`, fmtStamp(cutoff))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// KeysByUUID maps UUIDs (primary or alias) of resources of ep to their keys;
// UUIDs that name nothing are absent from the result.
func (s *SQLite) KeysByUUID(ctx context.Context, ep Endpoint, uuids []string) (map[string]string, error) {
	return keysByUUID(ctx, s.r, ep, uuids)
}

// keysByUUIDQuery maps a JSON list of UUIDs (twice) of an endpoint (twice)
// to keys, aliases first. CROSS JOIN keeps json_each the outer loop, so each
// UUID is one index search; left to itself SQLite may scan the table and
// probe the list instead (a full pass ran 40 times slower).
const keysByUUIDQuery = `SELECT j.value, r.key, 1 FROM json_each(?) j
		CROSS JOIN uuid_aliases a ON a.endpoint_id = ? AND a.alias = j.value CROSS JOIN resources r ON r.id = a.resource_id
	UNION ALL SELECT j.value, r.key, 0 FROM json_each(?) j CROSS JOIN resources r ON r.endpoint_id = ? AND r.uuid = j.value`

// keysByUUID is KeysByUUID in one query, on q (a pool or a transaction);
// the keys come back under the lowercased UUIDs. A UUID that is the primary
// of one resource and an alias of another names the first.
func keysByUUID(ctx context.Context, q queryer, ep Endpoint, uuids []string) (map[string]string, error) {
	out := make(map[string]string, len(uuids))
	if len(uuids) == 0 {
		return out, nil
	}
	low := make([]string, len(uuids))
	for i, u := range uuids {
		low[i] = strings.ToLower(u)
	}
	list, err := json.Marshal(low)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, keysByUUIDQuery, string(list), ep.ID, string(list), ep.ID)
	if err != nil {
		return nil, fmt.Errorf("store: resolve uuids: %w", err)
	}
	defer rows.Close()
	primary := map[string]bool{}
	for rows.Next() {
		var u, key string
		var alias bool
		if err := rows.Scan(&u, &key, &alias); err != nil {
			return nil, err
		}
		if alias && primary[u] {
			continue
		}
		out[u] = key
		primary[u] = primary[u] || !alias
	}
	return out, rows.Err()
}
