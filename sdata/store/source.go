package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"sdatasync/digest"
)

// The statements of a source selection. Both are index searches whose cost
// follows what they find, not the size of the table (TestSelectionUsesIndexes):
// resources without a UUID through the partial index resources_without_uuid,
// the changes of one endpoint from a tick on through resources_changes.
const (
	sqlWithoutUUID = `SELECT id FROM resources WHERE endpoint_id = ? AND uuid IS NULL`
	sqlAssignUUIDs = `UPDATE resources SET uuid = j.value FROM json_each(?) AS j WHERE resources.id = CAST(j.key AS INTEGER)`
	// A selected row names its resource (resource_id) and carries nothing
	// else of it but the sync state's endpoint and tick: the triggers of
	// migration 17 copy the rest in before a write changes it.
	sqlSelectChanges = `INSERT INTO sync_job_entries (job_id, seq, key, uuid, etag, payload, title, deleted, change, endpoint, tick, stamp, user, updated, aliases, resource_id)
		SELECT ?, ? + row_number() OVER (ORDER BY r.sync_tick, r.id), '', '', '', x'', '', 0, '', ?, r.sync_tick, '', '', '', '', r.id
		FROM resources r WHERE r.endpoint_id = ? AND r.sync_node = ? AND r.sync_tick >= ?`
	// sqlSourceEntries reads a page of a selection: a row still naming its
	// resource (resource_id) is that resource as it is, which is as it was
	// selected (the row's own columns are empty); a row a write emptied of
	// its resource holds the copy (and joins no resource). The first column
	// says that a named resource is missing.
	sqlSourceEntries = `SELECT e.resource_id IS NOT NULL AND r.id IS NULL, e.endpoint, e.tick,
		coalesce(r.key, e.key), coalesce(r.uuid, e.uuid), coalesce(r.etag, e.etag), coalesce(r.payload, e.payload),
		coalesce(r.title, e.title), coalesce(r.deleted, e.deleted), coalesce(r.change, e.change),
		coalesce(r.sync_stamp, e.stamp), coalesce(r.sync_user, e.user), coalesce(r.updated, e.updated),
		CASE WHEN e.resource_id IS NULL THEN e.aliases
			ELSE coalesce((SELECT group_concat(a.alias, ' ') FROM uuid_aliases a WHERE a.resource_id = e.resource_id), '') END
		FROM sync_job_entries e LEFT JOIN resources r ON r.id = e.resource_id
		WHERE e.job_id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?`
)

// RunSource makes the selection of a source job: in one transaction it reads
// the endpoint's digest S, selects every resource the target (whose digest
// is target) lacks by digest.Selects's rule (a change of an endpoint from
// the target's tick of it on; no upper bound, spec 2.5), ordered by
// ascending tick per endpoint, gives a UUID to
// every selected resource that has none, records the selection in the job
// (so the feed stays stable while it is paged and later writes go to the
// next pass: a selected row names its resource until a write is about to
// change it, which copies it first; migration 17) and marks the job done
// with S.
func (s *SQLite) RunSource(ctx context.Context, ep Endpoint, job Job, target digest.Digest) (Job, error) {
	err := s.write(ctx, func(tx *sql.Tx) error {
		src, err := readDigest(ctx, tx, ep)
		if err != nil {
			return err
		}
		// Resources without a UUID get one now: they are about to travel.
		rows, err := tx.QueryContext(ctx, sqlWithoutUUID, ep.ID)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		// New UUIDs go in 500 at a time: {"row id": "uuid", ...}.
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), 500)]
			ids = ids[len(chunk):]
			m := make(map[string]string, len(chunk))
			for _, id := range chunk {
				m[strconv.FormatInt(id, 10)] = NewUUID()
			}
			b, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, sqlAssignUUIDs, string(b)); err != nil {
				return fmt.Errorf("store: assign uuids: %w", err)
			}
		}
		seq := 0
		for _, rg := range digest.Missing(src, target) {
			var nid int64
			err := tx.QueryRowContext(ctx, `SELECT id FROM nodes WHERE url = ?`, rg.Endpoint).Scan(&nid)
			if errors.Is(err, sql.ErrNoRows) {
				continue // no resource carries a change of that endpoint
			}
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, sqlSelectChanges,
				job.ID, seq, rg.Endpoint, ep.ID, nid, rg.From)
			if err != nil {
				return fmt.Errorf("store: select changes: %w", err)
			}
			n, _ := res.RowsAffected()
			seq += int(n)
		}
		dj, err := json.Marshal(src)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE sync_jobs SET status = ?, digest = ?, total = ?, request = NULL, request_file = '', updated = ? WHERE id = ? AND tracking_id = ? AND status <> ?`,
			JobDone, string(dj), seq, fmtStamp(time.Now()), job.ID, job.TrackingID, JobDeleted)
		return err
	})
	if err != nil {
		return Job{}, err
	}
	s.dropRequests(job.requestFile)
	return s.Job(ctx, ep.ID, JobSource, job.TrackingID)
}

// SourceEntries returns entries [offset, offset+limit) of a source job's
// selection as resources with their sync states.
func (s *SQLite) SourceEntries(ctx context.Context, job Job, offset, limit int) ([]Resource, error) {
	rows, err := s.r.QueryContext(ctx, sqlSourceEntries, job.ID, offset, limit)
	if err != nil {
		return nil, fmt.Errorf("store: source page: %w", err)
	}
	defer rows.Close()
	var out []Resource
	for rows.Next() {
		var r Resource
		var gone bool
		var deleted int
		var change, stamp, updated, aliases string
		if err := rows.Scan(&gone, &r.State.Endpoint, &r.State.Tick, &r.Key, &r.UUID, &r.ETag, &r.Payload, &r.Title, &deleted, &change,
			&stamp, &r.State.User, &updated, &aliases); err != nil {
			return nil, err
		}
		if gone {
			return nil, fmt.Errorf("store: source page: selected resource of entry %d is gone", len(out)+offset+1)
		}
		r.Aliases = strings.Fields(aliases)
		r.Deleted, r.Change = deleted != 0, Change(change)
		r.State.Stamp, r.Updated = parseStamp(stamp), parseStamp(updated)
		out = append(out, r)
	}
	return out, rows.Err()
}
