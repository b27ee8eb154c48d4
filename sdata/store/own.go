package store

import (
	"context"
	"database/sql"
	"errors"

	"sdatasync/digest"
)

// OwnChanges returns up to limit resources whose last change was made at
// this endpoint with tick >= from, in tick order, with the endpoint's digest
// read in the same transaction (for immediate-mode pushes). Selected
// resources without a UUID get one, as they are about to travel.
func (s *SQLite) OwnChanges(ctx context.Context, ep Endpoint, from int64, limit int) ([]Resource, digest.Digest, error) {
	var out []Resource
	var d digest.Digest
	err := s.write(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		var err error
		if d, err = readDigest(ctx, tx, ep); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT r.id, `+resourceCols+resourceFrom+`JOIN endpoints e ON e.id = r.endpoint_id
			WHERE r.endpoint_id = ? AND r.sync_node = e.node_id AND r.sync_tick >= ? ORDER BY r.sync_tick LIMIT ?`, ep.ID, from, limit)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			rr, err := scanResourceWithID(rows, &id)
			if err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
			out = append(out, rr)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			if out[i].UUID == "" {
				out[i].UUID = NewUUID()
				if _, err := tx.ExecContext(ctx, `UPDATE resources SET uuid = ? WHERE id = ?`, out[i].UUID, ids[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return out, d, err
}

// AssignUUIDs gives every listed resource that has no UUID a new one and
// returns the UUID of each (key -> uuid).
func (s *SQLite) AssignUUIDs(ctx context.Context, ep Endpoint, keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			var u sql.NullString
			err := tx.QueryRowContext(ctx, `SELECT uuid FROM resources WHERE endpoint_id = ? AND key = ?`, ep.ID, k).Scan(&u)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if !u.Valid {
				u.String = NewUUID()
				if _, err := tx.ExecContext(ctx, `UPDATE resources SET uuid = ? WHERE endpoint_id = ? AND key = ?`, u.String, ep.ID, k); err != nil {
					return err
				}
			}
			out[k] = u.String
		}
		return nil
	})
	return out, err
}
