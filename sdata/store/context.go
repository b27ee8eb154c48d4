package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"sdatasync/digest"
)

// Causal contexts (digest.Context). A resource applied from an immediate
// feed, or from a page of a catchUp feed before its last page, includes
// versions the target's digest does not claim yet. The feed's digest is then
// kept with it, in sync_contexts (one row per distinct context, shared by
// every resource it came with), and a conflict at the target is decided
// again with it before it counts (digest.Digest.Including).

// syncCtx says what a sync write does to a resource's context: nothing
// (local writes: the new version includes the old one, and its context
// with it), or set it to id (NULL: none).
type syncCtx struct {
	set bool
	id  sql.NullInt64
}

// keepCtx leaves the resource's context as it is.
var keepCtx = syncCtx{}

// noCtx clears it: the version is claimed by the digest in whole.
var noCtx = syncCtx{set: true}

// contextID returns the row holding c, adding it when new; an empty c is
// NULL.
func contextID(ctx context.Context, tx *sql.Tx, c digest.Context) (syncCtx, error) {
	if len(c) == 0 {
		return noCtx, nil
	}
	b, err := json.Marshal(c) // keys sorted: equal contexts share a row
	if err != nil {
		return syncCtx{}, err
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO sync_contexts (ticks) VALUES (?)
		ON CONFLICT (ticks) DO UPDATE SET ticks = excluded.ticks RETURNING id`, string(b)).Scan(&id)
	if err != nil {
		return syncCtx{}, fmt.Errorf("store: sync context: %w", err)
	}
	return syncCtx{set: true, id: sql.NullInt64{Int64: id, Valid: true}}, nil
}

// resourceContext reads the context of the resource with row id (nil when
// it has none).
func resourceContext(ctx context.Context, tx *sql.Tx, id int64) (digest.Context, error) {
	var ticks string
	err := tx.QueryRowContext(ctx, `SELECT c.ticks FROM resources r JOIN sync_contexts c ON c.id = r.sync_context
		WHERE r.id = ?`, id).Scan(&ticks)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: sync context: %w", err)
	}
	var c digest.Context
	if err := json.Unmarshal([]byte(ticks), &c); err != nil {
		return nil, fmt.Errorf("store: sync context %q: %w", ticks, err)
	}
	return c, nil
}

// sweepContexts deletes the contexts no resource names any more.
func (s *SQLite) sweepContexts(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM sync_contexts WHERE id NOT IN
		(SELECT sync_context FROM resources WHERE sync_context IS NOT NULL)`)
	return err
}
