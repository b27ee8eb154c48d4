package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"sdatasync/digest"
)

// applyEntry executes, inside tx, what digest.DecideEntry decides for one
// incoming entry: it looks the resource up (by its UUID or an alias), lets
// the decision be made, then writes the incoming version, restamps the held
// one or writes nothing, and stores the contexts the decision names.
func applyEntry(ctx context.Context, tx *sql.Tx, ep Endpoint, tgt *digest.Digest, e Incoming, pc *pageCache) (Result, error) {
	res := Result{Method: e.Method, UUID: strings.ToLower(e.UUID), SourceState: e.State, PayloadPath: e.PayloadPath}
	in := digest.Arrival{State: e.State, Deleted: e.Deleted, Invalid: e.Invalid}
	var cur Resource
	var curID int64
	known := false
	if e.Invalid == nil {
		// The resource answers to the entry's UUID or to one of its aliases.
		var err error
		for _, u := range append([]string{res.UUID}, e.Aliases...) {
			if !pc.aliases && pc.absent[u] {
				err = ErrNotFound // looked up with the entries around it
				continue
			}
			if cur, curID, err = resourceByUUID(ctx, tx, ep, u, pc.aliases); err == nil || !errors.Is(err, ErrNotFound) {
				break
			}
		}
		delete(pc.absent, res.UUID) // applied or not, it is looked up again next time
		if len(e.Aliases) > 0 || err == nil && cur.UUID != res.UUID {
			pc.aliases = true // this entry may add aliases
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return res, err
		}
		known = err == nil
	}
	var ts *digest.SyncState
	if known {
		st := cur.State
		ts = &st
		res.TargetState = ts
	}
	d, err := digest.DecideEntry(tgt, pc.page, in, ts, func() (digest.Context, error) { return resourceContext(ctx, tx, curID) })
	if err != nil {
		return res, err
	}
	res.Outcome, res.Status, res.Severity, res.Message = d.Outcome.String(), d.Status, d.Severity, d.Message
	if d.Outcome == digest.Invalid {
		return res, nil
	}
	res.Rule, res.Loser = d.Rule, loser(d.Outcome, cur, e)
	sc, err := pc.storedContext(ctx, tx, d)
	if err != nil {
		return res, err
	}
	if !d.Writes() {
		if d.Restamp {
			// The winning version becomes a merge of both (digest.Merge):
			// a change of this endpoint that every other node takes in.
			if err := restamp(ctx, tx, ep, &cur, d.State, sc, pc); err != nil {
				return res, err
			}
		}
		res.Key, res.ETag, res.Payload, res.Title, res.Deleted = cur.Key, cur.ETag, cur.Payload, cur.Title, cur.Deleted
		return res, nil
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	r := Resource{UUID: res.UUID, Payload: e.Payload, Props: props(e.Props), Title: e.Title, Deleted: e.Deleted,
		State: d.State, Updated: now}
	nid, err := pc.nodeID(ctx, tx, r.State.Endpoint)
	if err != nil {
		return res, err
	}
	if r.Payload == nil {
		r.Payload = []byte{}
	}
	switch {
	case e.Deleted:
		r.Change = Deleted
	case known && !cur.Deleted:
		r.Change = Updated
	default:
		r.Change = Created
	}
	if e.Deleted && known && (e.KeepPayload || len(e.Payload) == 0) {
		r.Payload, r.Props, r.Title = cur.Payload, cur.Props, cur.Title
	}
	if e.Merge != nil && known && !cur.Deleted && !e.Deleted {
		if r.Payload, r.Props, r.Title, err = e.Merge(cur.Payload); err != nil {
			return res, err
		}
	}
	r.ETag = etag(r.Payload, r.Deleted, r.State)
	if known {
		r.Key, r.Created = cur.Key, cur.Created
		// The applied version's UUID becomes primary; a former one stays an alias.
		if err := setPrimaryUUID(ctx, tx, ep, curID, cur.UUID, res.UUID, now); err != nil {
			return res, err
		}
		seq, err := pc.seq(ctx, tx)
		if err != nil {
			return res, err
		}
		if err := updateResource(ctx, tx, ep, nid, &r, sc, seq); err != nil {
			return res, err
		}
	} else {
		key, err := pc.newKey(ctx, tx, ep, pc.remaining)
		if err != nil {
			return res, err
		}
		r.Key, r.Created = key, now
		seq, err := pc.seq(ctx, tx)
		if err != nil {
			return res, err
		}
		if err := insertResource(ctx, tx, ep, nid, &r, sc, seq, &pc.live); err != nil {
			return res, err
		}
	}
	// The source's former UUIDs name the resource here too, unless they name
	// another resource already.
	for _, a := range e.Aliases {
		if a = strings.ToLower(a); a == res.UUID {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO uuid_aliases (endpoint_id, alias, resource_id, created)
			SELECT ?, ?, id, ? FROM resources WHERE endpoint_id = ? AND key = ?
			AND NOT EXISTS (SELECT 1 FROM resources WHERE endpoint_id = ? AND uuid = ?)
			ON CONFLICT (endpoint_id, alias) DO NOTHING`,
			ep.ID, a, fmtStamp(now), ep.ID, r.Key, ep.ID, a); err != nil {
			return res, err
		}
	}
	res.Key, res.ETag, res.Payload, res.Title, res.Deleted = r.Key, r.ETag, r.Payload, r.Title, r.Deleted
	return res, nil
}

func stateJSON(st *digest.SyncState) string {
	if st == nil {
		return ""
	}
	b, _ := json.Marshal(st)
	return string(b)
}

// restamp rewrites the held version, which won a conflict, with the merge
// state the decision gave it (digest.Merge): its content and stamp stay.
func restamp(ctx context.Context, tx *sql.Tx, ep Endpoint, cur *Resource, state digest.SyncState, sc syncCtx, pc *pageCache) error {
	nid, err := pc.nodeID(ctx, tx, state.Endpoint)
	if err != nil {
		return err
	}
	cur.State = state
	cur.ETag = etag(cur.Payload, cur.Deleted, cur.State)
	seq, err := pc.seq(ctx, tx)
	if err != nil {
		return err
	}
	return updateResource(ctx, tx, ep, nid, cur, sc, seq)
}

// storedContext stores the context a decision names and returns its row
// (the page's context is stored once per page).
func (pc *pageCache) storedContext(ctx context.Context, tx *sql.Tx, d digest.Decision) (syncCtx, error) {
	switch d.ContextRule {
	case digest.NoContext:
		return noCtx, nil
	case digest.FeedContext:
		if pc.feedCtx == nil {
			c, err := contextID(ctx, tx, pc.page.Context)
			if err != nil {
				return keepCtx, err
			}
			pc.feedCtx = &c
		}
		return *pc.feedCtx, nil
	case digest.OwnContext:
		return contextID(ctx, tx, d.Context)
	}
	return keepCtx, nil
}

// resourceByUUID reads the resource answering to u (its primary UUID or an
// alias) and its row id. (Two simple statements measure faster here than
// one UNION over the joined tables.)
func resourceByUUID(ctx context.Context, tx *sql.Tx, ep Endpoint, u string, aliases bool) (Resource, int64, error) {
	id, _, err := resolveUUIDIn(ctx, tx, ep, u, aliases)
	if err != nil {
		return Resource{}, 0, err
	}
	r, err := getResource(ctx, tx, ep, "id", strconv.FormatInt(id, 10))
	return r, id, err
}
