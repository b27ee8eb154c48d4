package store

import (
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"sdatasync/digest"
)

// SQLite is the SQLite implementation of Store: WAL mode, foreign keys on,
// one writer connection (SQLite allows one writer at a time anyway; a single
// connection turns lock contention into an orderly queue) and a pool of
// readers.
type SQLite struct {
	w, r *sql.DB
	path string
	// stopCheckpointer stops the WAL checkpointer (wal.go); nil when none.
	stopCheckpointer func()
	// onWrite, when set, sees the duration of every write (see
	// ObserveWrites).
	onWrite atomic.Pointer[func(time.Duration)]
	// The writer goroutine (writer.go): writes reach it on writes; closed
	// stops it, writerDone says it has stopped.
	writes     chan *writeReq
	closed     chan struct{}
	writerDone chan struct{}
	groups     atomic.Int64 // transactions run for more than one write
}

var _ Store = (*SQLite)(nil)

// OpenSQLite opens (creating it and its folder when needed) the database at
// path and brings its schema up to date.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	return openSQLite(ctx, path, CheckpointEvery)
}

// openSQLite is OpenSQLite with the checkpointer's interval (0: none).
func openSQLite(ctx context.Context, path string, checkpointEvery time.Duration) (*SQLite, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("store: create folder for %s: %w", path, err)
		}
	}
	dsn := func(extra string) string {
		q := url.Values{}
		q.Set("_journal_mode", "WAL")
		q.Set("_foreign_keys", "on")
		q.Set("_busy_timeout", "10000")
		q.Set("_synchronous", "NORMAL")
		q.Set("_stmt_cache_size", "64") // reuse prepared statements: hot paths repeat a few queries
		return "file:" + path + "?" + q.Encode() + extra
	}
	// The writer keeps a bigger page cache: index pages of a large table
	// stay in it between the writes of a sync page (issue 17).
	w := sql.OpenDB(newPragmaConnector(dsn("&_txlock=immediate&_cache_size=-16000"), walPragma))
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r := sql.OpenDB(newPragmaConnector(dsn("&_cache_size=-8000"), walPragma))
	r.SetMaxOpenConns(8)
	// Readers stay open (database/sql keeps 2 idle by default): a new
	// connection costs its pragmas and starts with a cold page cache, and
	// concurrent reads closed and reopened them all the time (issue 17).
	r.SetMaxIdleConns(8)
	s := &SQLite{w: w, r: r, path: path}
	s.startWriter()
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.sweepContexts(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.sweepRequestFiles(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.startCheckpointer(checkpointEvery)
	return s, nil
}

// Close stops the checkpointer and closes both connection pools.
func (s *SQLite) Close() error {
	if s.stopCheckpointer != nil {
		s.stopCheckpointer()
	}
	s.stopWriter()
	return errors.Join(s.r.Close(), s.w.Close())
}

// DB returns the writer and reader pools, for packages that keep their own
// tables in the same database (sync jobs, audit log).
func (s *SQLite) DB() (writer, reader *sql.DB) { return s.w, s.r }

func (s *SQLite) migrate(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("store: %s has schema version %d, newer than this build knows (%d)", s.path, v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("store: migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `PRAGMA user_version = `+strconv.Itoa(len(migrations))); err != nil {
		return fmt.Errorf("store: write schema version: %w", err)
	}
	return tx.Commit()
}

const stampLayout = "2006-01-02T15:04:05.000000000Z"

func fmtStamp(t time.Time) string { return t.UTC().Format(stampLayout) }

func parseStamp(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// nodeID interns an endpoint URL.
func nodeID(ctx context.Context, tx *sql.Tx, u string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM nodes WHERE url = ?`, u).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO nodes (url) VALUES (?)`, u)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// Endpoint implements Store.
func (s *SQLite) Endpoint(ctx context.Context, dataset, kind, u string, priority int) (Endpoint, error) {
	if ep, err := s.findEndpoint(ctx, s.r, dataset, kind); err == nil {
		return ep, nil
	} else if !errors.Is(err, ErrNotFound) {
		return Endpoint{}, err
	}
	if priority < 1 || priority > 9 {
		return Endpoint{}, fmt.Errorf("store: conflict priority %d out of range 1..9", priority)
	}
	var ep Endpoint
	err := s.write(ctx, func(tx *sql.Tx) error {
		// Another writer may have created it since the read above.
		var err error
		if ep, err = s.findEndpoint(ctx, tx, dataset, kind); err == nil {
			return nil
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		nid, err := nodeID(ctx, tx, u)
		if err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		res, err := tx.ExecContext(ctx, `INSERT INTO endpoints (dataset, kind, node_id, priority, created) VALUES (?,?,?,?,?)`,
			dataset, kind, nid, priority, fmtStamp(now))
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		// The digest of a new endpoint holds its own entry: first tick 1.
		if _, err := tx.ExecContext(ctx, `INSERT INTO digest_entries (endpoint_id, node_id, pos, tick, stamp, priority) VALUES (?,?,0,1,?,?)`,
			id, nid, fmtStamp(now), priority); err != nil {
			return err
		}
		ep = Endpoint{ID: id, Dataset: dataset, Kind: kind, URL: u, Priority: priority, Created: now}
		return nil
	})
	return ep, err
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *SQLite) findEndpoint(ctx context.Context, q queryer, dataset, kind string) (Endpoint, error) {
	var ep Endpoint
	var created string
	err := q.QueryRowContext(ctx, `SELECT e.id, e.dataset, e.kind, (SELECT url FROM nodes WHERE id = e.node_id), e.priority, e.created
		FROM endpoints e WHERE e.dataset = ? AND e.kind = ?`, dataset, kind).
		Scan(&ep.ID, &ep.Dataset, &ep.Kind, &ep.URL, &ep.Priority, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Endpoint{}, ErrNotFound
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("store: endpoint %s/%s: %w", dataset, kind, err)
	}
	ep.Created = parseStamp(created)
	return ep, nil
}

// Digest implements Store.
func (s *SQLite) Digest(ctx context.Context, ep Endpoint) (digest.Digest, error) {
	return readDigest(ctx, s.r, ep)
}

func readDigest(ctx context.Context, q queryer, ep Endpoint) (digest.Digest, error) {
	rows, err := q.QueryContext(ctx, `SELECT (SELECT url FROM nodes WHERE id = d.node_id), d.tick, d.stamp, d.priority
		FROM digest_entries d WHERE d.endpoint_id = ? ORDER BY d.pos`, ep.ID) // no JOIN: see resourceCols
	if err != nil {
		return digest.Digest{}, fmt.Errorf("store: read digest: %w", err)
	}
	defer rows.Close()
	d := digest.Digest{Origin: ep.URL}
	for rows.Next() {
		var e digest.Entry
		var stamp string
		if err := rows.Scan(&e.Endpoint, &e.Tick, &stamp, &e.ConflictPriority); err != nil {
			return digest.Digest{}, fmt.Errorf("store: read digest: %w", err)
		}
		e.Stamp = parseStamp(stamp)
		d.Entries = append(d.Entries, e)
	}
	return d, rows.Err()
}

// Tx runs fn in one write transaction of the store; packages that keep their
// own tables in this database (sync jobs, audit) use it so that their state
// commits together with resource writes.
func (s *SQLite) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error { return s.write(ctx, fn) }

// resourceCols are the columns scanResource reads, from resources r.
//
// The node's URL comes from a scalar subquery, not from a JOIN of nodes:
// SQLite (3.54) marks a statement joining nodes on r.sync_node as
// depending on its bound values, and re-prepares it, parse and plan,
// every time it runs with new arguments: a lookup by key cost 47 µs
// instead of 16 µs (BenchmarkGetByKey, 20k resources), a lookup by UUID
// 68 µs instead of 28 µs. The subquery's plan does not depend on them.
const resourceCols = `r.key, r.uuid, r.etag, r.payload, r.props, r.title, r.deleted, r.change, (SELECT url FROM nodes WHERE id = r.sync_node), r.sync_tick, r.sync_stamp, r.sync_user, r.created, r.updated`
const resourceFrom = ` FROM resources r `

type scanner interface{ Scan(dest ...any) error }

func scanResource(sc scanner) (Resource, error) { return scanResourceWithID(sc, nil) }

// scanResourceWithID scans resourceCols, preceded by the row id when id is
// not nil.
func scanResourceWithID(sc scanner, id *int64) (Resource, error) {
	var r Resource
	var uuid sql.NullString
	var change, stamp, created, updated string
	var deleted int
	dest := []any{&r.Key, &uuid, &r.ETag, &r.Payload, &r.Props, &r.Title, &deleted, &change,
		&r.State.Endpoint, &r.State.Tick, &stamp, &r.State.User, &created, &updated}
	if id != nil {
		dest = append([]any{id}, dest...)
	}
	err := sc.Scan(dest...)
	if err != nil {
		return Resource{}, err
	}
	r.UUID = uuid.String
	r.Deleted = deleted != 0
	r.Change = Change(change)
	r.State.Stamp = parseStamp(stamp)
	r.Created = parseStamp(created)
	r.Updated = parseStamp(updated)
	return r, nil
}

func getResource(ctx context.Context, q queryer, ep Endpoint, col, val string) (Resource, error) {
	r, err := scanResource(q.QueryRowContext(ctx, `SELECT `+resourceCols+resourceFrom+`WHERE r.endpoint_id = ? AND r.`+col+` = ?`, ep.ID, val))
	if errors.Is(err, sql.ErrNoRows) {
		return Resource{}, ErrNotFound
	}
	if err != nil {
		return Resource{}, fmt.Errorf("store: get %s: %w", ep.Kind, err)
	}
	return r, nil
}

// Get implements Store.
func (s *SQLite) Get(ctx context.Context, ep Endpoint, key string) (Resource, error) {
	return getResource(ctx, s.r, ep, "key", key)
}

// GetByUUID implements Store: the UUID may be the primary one or an alias.
func (s *SQLite) GetByUUID(ctx context.Context, ep Endpoint, uuid string) (Resource, error) {
	id, _, err := resolveUUID(ctx, s.r, ep, uuid)
	if err != nil {
		return Resource{}, err
	}
	return getResource(ctx, s.r, ep, "id", fmt.Sprint(id))
}

// sqlLiveCount is the number of live resources of an endpoint.
const sqlLiveCount = `SELECT live FROM resource_counts WHERE endpoint_id = ?`

// listPageSQL is the statement of one page of a listing. The page's rows
// are found first, by id, and only they are read and joined: the rows an
// offset skips cost an index entry each (for the default listing, one of
// resources_live), not the read of the row.
func listPageSQL(where, order string) string {
	return `SELECT ` + resourceCols + resourceFrom + `WHERE r.id IN (SELECT r.id FROM resources r WHERE ` + where +
		` ORDER BY ` + order + ` LIMIT ? OFFSET ?) ORDER BY ` + order
}

// List implements Store.
func (s *SQLite) List(ctx context.Context, ep Endpoint, q ListQuery) ([]Resource, int, error) {
	where := `r.endpoint_id = ?`
	args := []any{ep.ID}
	if !q.IncludeDeleted {
		where += ` AND r.deleted = 0`
	}
	if q.Where != "" {
		where += ` AND (` + q.Where + `)`
		args = append(args, q.Args...)
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("store: list: %w", err)
	}
	defer tx.Rollback() // one read transaction: count and page see the same snapshot
	var total int
	if q.Where == "" && !q.IncludeDeleted {
		// Every live resource: counted by the triggers of migration 8.
		err = tx.QueryRowContext(ctx, sqlLiveCount, ep.ID).Scan(&total)
		if errors.Is(err, sql.ErrNoRows) {
			err = nil
		}
	} else {
		err = tx.QueryRowContext(ctx, `SELECT count(*) FROM resources r WHERE `+where, args...).Scan(&total)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("store: list %s: %w", ep.Kind, err)
	}
	order := `r.id`
	if q.OrderBy != "" {
		order = q.OrderBy + `, r.id`
	}
	limit := q.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := tx.QueryContext(ctx, listPageSQL(where, order), append(args, limit, q.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list %s: %w", ep.Kind, err)
	}
	defer rows.Close()
	var out []Resource
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("store: list %s: %w", ep.Kind, err)
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}

// etag derives an entity tag from the stored content and its sync state, so
// that every write (local or applied from sync) changes it.
func etag(payload []byte, deleted bool, st digest.SyncState) string {
	h := md5.New()
	h.Write(payload)
	var b [9]byte
	binary.BigEndian.PutUint64(b[:8], uint64(st.Tick))
	if deleted {
		b[8] = 1
	}
	h.Write(b[:])
	h.Write([]byte(st.Endpoint))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// tickLocal takes the endpoint's next local tick and advances its own digest
// entry, inside tx.
func tickLocal(ctx context.Context, tx *sql.Tx, ep Endpoint, now time.Time) (nodeID int64, tick int64, err error) {
	err = tx.QueryRowContext(ctx, `UPDATE digest_entries SET tick = tick + 1, stamp = ?
		WHERE endpoint_id = ? AND node_id = (SELECT node_id FROM endpoints WHERE id = ?) RETURNING node_id, tick - 1`,
		fmtStamp(now), ep.ID, ep.ID).Scan(&nodeID, &tick)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, fmt.Errorf("store: endpoint %s/%s has no own digest entry", ep.Dataset, ep.Kind)
	}
	return nodeID, tick, err
}

// recordLocal stores r as a local change of kind change: a fresh local tick
// (the own digest entry advances in the same transaction), the sync state,
// the modification time and the ETag that follow from them.
func recordLocal(ctx context.Context, tx *sql.Tx, ep Endpoint, r *Resource, change Change, user string) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	nid, tick, err := tickLocal(ctx, tx, ep, now)
	if err != nil {
		return err
	}
	r.Change = change
	r.State = digest.SyncState{Endpoint: ep.URL, Tick: tick, Stamp: now, User: user}
	r.Updated = now
	r.ETag = etag(r.Payload, r.Deleted, r.State)
	seq, err := nextSeq(ctx, tx)
	if err != nil {
		return err
	}
	return updateResource(ctx, tx, ep, nid, r, keepCtx, seq)
}

func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
}

// Create implements Store.
func (s *SQLite) Create(ctx context.Context, ep Endpoint, w Write) (Resource, error) {
	var out Resource
	err := s.write(ctx, func(tx *sql.Tx) error {
		key := w.Key
		if key == "" {
			var err error
			if key, err = allocKey(ctx, tx, ep); err != nil {
				return err
			}
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		nid, tick, err := tickLocal(ctx, tx, ep, now)
		if err != nil {
			return err
		}
		r := Resource{Key: key, UUID: strings.ToLower(w.UUID), Payload: w.Payload, Props: props(w.Props), Title: w.Title,
			Change: Created, State: digest.SyncState{Endpoint: ep.URL, Tick: tick, Stamp: now, User: w.User}, Created: now, Updated: now}
		r.ETag = etag(r.Payload, false, r.State)
		seq, err := nextSeq(ctx, tx)
		if err != nil {
			return err
		}
		if err := insertResource(ctx, tx, ep, nid, &r, noCtx, seq, nil); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// allocKey takes the endpoint's next numeric key, skipping keys a client
// may have chosen explicitly.
func allocKey(ctx context.Context, tx *sql.Tx, ep Endpoint) (string, error) {
	for {
		var next int64
		var taken bool
		err := tx.QueryRowContext(ctx, `UPDATE endpoints SET next_key = next_key + 1 WHERE id = ?
			RETURNING next_key - 1, EXISTS (SELECT 1 FROM resources WHERE endpoint_id = ? AND key = CAST(next_key - 1 AS TEXT))`, ep.ID, ep.ID).Scan(&next, &taken)
		if err != nil {
			return "", fmt.Errorf("store: allocate key: %w", err)
		}
		if !taken {
			return strconv.FormatInt(next, 10), nil
		}
	}
}

func props(p []byte) []byte {
	if len(p) == 0 {
		return []byte("{}")
	}
	return p
}

func nullUUID(u string) any {
	if u == "" {
		return nil
	}
	return u
}

// nextSeq takes the next number of the store's change sequence, in the
// writing transaction: every write of a resource's content (a local write, an
// applied sync entry, a device change) gets one, in commit order (there is
// one writer), so that device downloads are exact index range scans. The
// row's own write carries the number (a trigger that rewrote the row after
// each write cost a third of a sync page's apply); a sync page reserves its
// numbers in blocks (pageCache.seq). Numbers reserved and not used leave gaps:
// the sequence is monotone and unique, not dense.
func nextSeq(ctx context.Context, tx *sql.Tx) (int64, error) { return reserveSeq(ctx, tx, 1) }

// reserveSeq reserves n numbers of the change sequence and returns the first.
func reserveSeq(ctx context.Context, tx *sql.Tx, n int64) (int64, error) {
	var last int64
	if err := tx.QueryRowContext(ctx, `UPDATE change_seq SET last = last + ? WHERE id = 1 RETURNING last`, n).Scan(&last); err != nil {
		return 0, fmt.Errorf("store: change sequence: %w", err)
	}
	return last - n + 1, nil
}

// insertResource writes a new resource row; seq is its change sequence
// number (nextSeq, or a page's block: pageCache.seq).
//
// The endpoint's live count (resource_counts) grows with a live row: by one
// statement at once when live is nil, else in *live, for the caller to add
// with addLive before its transaction ends (a sync page adds all its new
// rows at once).
func insertResource(ctx context.Context, tx *sql.Tx, ep Endpoint, syncNode int64, r *Resource, sc syncCtx, seq int64, live *int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO resources (endpoint_id, key, uuid, etag, payload, props, title, deleted, change,
		sync_node, sync_tick, sync_stamp, sync_user, created, updated, sync_context, seq, first_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		ep.ID, r.Key, nullUUID(r.UUID), r.ETag, r.Payload, string(r.Props), r.Title, r.Deleted, string(r.Change),
		syncNode, r.State.Tick, fmtStamp(r.State.Stamp), r.State.User, fmtStamp(r.Created), fmtStamp(r.Updated), sc.id, seq, seq)
	if isUnique(err) {
		return fmt.Errorf("%w: %s with key %q or uuid %q exists", ErrConflict, ep.Kind, r.Key, r.UUID)
	}
	if err != nil {
		return fmt.Errorf("store: insert %s: %w", ep.Kind, err)
	}
	switch {
	case r.Deleted:
	case live != nil:
		*live++
	default:
		return addLive(ctx, tx, ep, 1)
	}
	return nil
}

// addLive adds n to the endpoint's count of live resources.
func addLive(ctx context.Context, tx *sql.Tx, ep Endpoint, n int64) error {
	if n == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO resource_counts (endpoint_id, live) VALUES (?, ?)
		ON CONFLICT (endpoint_id) DO UPDATE SET live = live + excluded.live`, ep.ID, n)
	if err != nil {
		return fmt.Errorf("store: count live %s: %w", ep.Kind, err)
	}
	return nil
}

// updateResource rewrites a resource row; seq is its new change sequence
// number.
func updateResource(ctx context.Context, tx *sql.Tx, ep Endpoint, syncNode int64, r *Resource, sc syncCtx, seq int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE resources SET uuid = ?, etag = ?, payload = ?, props = ?, title = ?, deleted = ?, change = ?,
		sync_node = ?, sync_tick = ?, sync_stamp = ?, sync_user = ?, updated = ?,
		sync_context = CASE WHEN ? THEN ? ELSE sync_context END, seq = ? WHERE endpoint_id = ? AND key = ?`,
		nullUUID(r.UUID), r.ETag, r.Payload, string(r.Props), r.Title, r.Deleted, string(r.Change),
		syncNode, r.State.Tick, fmtStamp(r.State.Stamp), r.State.User, fmtStamp(r.Updated), sc.set, sc.id, seq, ep.ID, r.Key)
	if isUnique(err) {
		return fmt.Errorf("%w: %s uuid %q is taken", ErrConflict, ep.Kind, r.UUID)
	}
	if err != nil {
		return fmt.Errorf("store: update %s: %w", ep.Kind, err)
	}
	return nil
}

// Update implements Store.
func (s *SQLite) Update(ctx context.Context, ep Endpoint, key string, mutate func(cur Resource) (Write, error)) (Resource, error) {
	var out Resource
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, err := getResource(ctx, tx, ep, "key", key)
		if err != nil {
			return err
		}
		if cur.Deleted {
			return ErrNotFound
		}
		w, err := mutate(cur)
		if err != nil {
			return err
		}
		r := cur
		if w.UUID != "" {
			r.UUID = strings.ToLower(w.UUID)
		}
		r.Payload, r.Props, r.Title = w.Payload, props(w.Props), w.Title
		if err := recordLocal(ctx, tx, ep, &r, Updated, w.User); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// Delete implements Store.
func (s *SQLite) Delete(ctx context.Context, ep Endpoint, key, user string, check func(cur Resource) error) (Resource, error) {
	var out Resource
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, err := getResource(ctx, tx, ep, "key", key)
		if err != nil {
			return err
		}
		if cur.Deleted {
			return ErrNotFound
		}
		if check != nil {
			if err := check(cur); err != nil {
				return err
			}
		}
		r := cur
		r.Deleted = true
		if err := recordLocal(ctx, tx, ep, &r, Deleted, user); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}
