package store

import (
	"context"
	"database/sql"
	"fmt"

	"sdatasync/digest"
)

// writeDigest replaces the endpoint's digest entries with d's, keeping the
// order of d.
func writeDigest(ctx context.Context, tx *sql.Tx, ep Endpoint, d digest.Digest) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM digest_entries WHERE endpoint_id = ?`, ep.ID); err != nil {
		return err
	}
	for i, e := range d.Entries {
		nid, err := nodeID(ctx, tx, e.Endpoint)
		if err != nil {
			return err
		}
		prio := e.ConflictPriority
		if prio == 0 {
			prio = digest.DefaultConflictPriority
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO digest_entries (endpoint_id, node_id, pos, tick, stamp, priority) VALUES (?,?,?,?,?,?)`,
			ep.ID, nid, i, e.Tick, fmtStamp(e.Stamp), prio); err != nil {
			return fmt.Errorf("store: write digest: %w", err)
		}
	}
	return nil
}

// ReplaceDigest replaces the endpoint's digest (a $syncDigest PUT, used to
// re-seed an endpoint) after digest.Digest.ValidateOwn. The endpoint's own
// entry never moves backwards below the ticks its stored resources carry,
// never moves beyond the provider's own clock, and is kept when d lacks it.
//
// It returns the digests before and after, read in the same transaction, for
// the audit log.
func (s *SQLite) ReplaceDigest(ctx context.Context, ep Endpoint, d digest.Digest) (before, after digest.Digest, err error) {
	if err := d.ValidateOwn(ep.URL); err != nil {
		return before, after, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		cur, err := readDigest(ctx, tx, ep)
		if err != nil {
			return err
		}
		before = cur.Clone()
		own, _ := cur.Get(ep.URL)
		var maxOwn int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(r.sync_tick), 0) FROM resources r JOIN endpoints e ON e.id = r.endpoint_id
			WHERE r.endpoint_id = ? AND r.sync_node = e.node_id`, ep.ID).Scan(&maxOwn); err != nil {
			return err
		}
		nd := d.Clone()
		nd.Origin = ep.URL
		if e, ok := nd.Get(ep.URL); ok {
			// The provider's own clock is authoritative: a replacement may
			// move it back (never below a stored change) but never claim
			// more of it than it has.
			e.Tick = max(min(e.Tick, own.Tick), maxOwn+1, digest.FirstTick)
			nd.Set(e)
		} else {
			own.Tick = max(own.Tick, maxOwn+1)
			nd.Set(own)
		}
		if err := writeDigest(ctx, tx, ep, nd); err != nil {
			return err
		}
		after, err = readDigest(ctx, tx, ep)
		return err
	})
	return before, after, err
}
