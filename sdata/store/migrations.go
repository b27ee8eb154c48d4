package store

import "strings"

// migrations are applied in order; migrations[i] brings the schema from
// version i to i+1. Never edit a released migration: append a new one.
var migrations = []string{
	// 1: endpoints, digests, resources.
	`CREATE TABLE nodes (
		id  INTEGER PRIMARY KEY,
		url TEXT NOT NULL UNIQUE
	);
	CREATE TABLE endpoints (
		id       INTEGER PRIMARY KEY,
		dataset  TEXT NOT NULL,
		kind     TEXT NOT NULL,
		node_id  INTEGER NOT NULL REFERENCES nodes(id),
		priority INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 9),
		next_key INTEGER NOT NULL DEFAULT 1,
		created  TEXT NOT NULL,
		UNIQUE (dataset, kind)
	);
	CREATE TABLE digest_entries (
		endpoint_id INTEGER NOT NULL REFERENCES endpoints(id),
		node_id     INTEGER NOT NULL REFERENCES nodes(id),
		pos         INTEGER NOT NULL,
		tick        INTEGER NOT NULL CHECK (tick >= 0),
		stamp       TEXT NOT NULL,
		priority    INTEGER NOT NULL,
		PRIMARY KEY (endpoint_id, node_id)
	) WITHOUT ROWID;
	CREATE TABLE resources (
		id          INTEGER PRIMARY KEY,
		endpoint_id INTEGER NOT NULL REFERENCES endpoints(id),
		key         TEXT NOT NULL,
		uuid        TEXT,
		etag        TEXT NOT NULL,
		payload     BLOB NOT NULL,
		props       TEXT NOT NULL DEFAULT '{}',
		title       TEXT NOT NULL DEFAULT '',
		deleted     INTEGER NOT NULL DEFAULT 0,
		change      TEXT NOT NULL,
		sync_node   INTEGER NOT NULL REFERENCES nodes(id),
		sync_tick   INTEGER NOT NULL,
		sync_stamp  TEXT NOT NULL,
		sync_user   TEXT NOT NULL DEFAULT '',
		created     TEXT NOT NULL,
		updated     TEXT NOT NULL,
		UNIQUE (endpoint_id, key)
	);
	CREATE UNIQUE INDEX resources_uuid ON resources (endpoint_id, uuid) WHERE uuid IS NOT NULL;
	CREATE INDEX resources_changes ON resources (endpoint_id, sync_node, sync_tick);`,
	// 2: asynchronous sync jobs, their snapshots and results; the audit log.
	`CREATE TABLE sync_jobs (
		id          INTEGER PRIMARY KEY,
		endpoint_id INTEGER NOT NULL REFERENCES endpoints(id),
		type        TEXT NOT NULL,
		tracking_id TEXT NOT NULL,
		status      TEXT NOT NULL,
		run_name    TEXT NOT NULL DEFAULT '',
		run_stamp   TEXT NOT NULL DEFAULT '',
		request     BLOB,
		digest      TEXT NOT NULL DEFAULT '',
		total       INTEGER NOT NULL DEFAULT 0,
		failure     TEXT NOT NULL DEFAULT '',
		created     TEXT NOT NULL,
		updated     TEXT NOT NULL,
		expires     TEXT NOT NULL,
		UNIQUE (endpoint_id, type, tracking_id)
	);
	CREATE TABLE sync_job_entries (
		job_id   INTEGER NOT NULL REFERENCES sync_jobs(id) ON DELETE CASCADE,
		seq      INTEGER NOT NULL,
		key      TEXT NOT NULL,
		uuid     TEXT NOT NULL,
		etag     TEXT NOT NULL,
		payload  BLOB NOT NULL,
		title    TEXT NOT NULL,
		deleted  INTEGER NOT NULL,
		change   TEXT NOT NULL,
		endpoint TEXT NOT NULL,
		tick     INTEGER NOT NULL,
		stamp    TEXT NOT NULL,
		user     TEXT NOT NULL,
		updated  TEXT NOT NULL,
		PRIMARY KEY (job_id, seq)
	) WITHOUT ROWID;
	CREATE TABLE sync_job_results (
		job_id      INTEGER NOT NULL REFERENCES sync_jobs(id) ON DELETE CASCADE,
		seq         INTEGER NOT NULL,
		status      INTEGER NOT NULL,
		method      TEXT NOT NULL,
		outcome     TEXT NOT NULL,
		key         TEXT NOT NULL,
		uuid        TEXT NOT NULL,
		etag        TEXT NOT NULL,
		payload     BLOB,
		title       TEXT NOT NULL,
		deleted     INTEGER NOT NULL,
		severity    TEXT NOT NULL,
		message     TEXT NOT NULL,
		payload_path TEXT NOT NULL,
		source_state TEXT NOT NULL,
		target_state TEXT NOT NULL,
		PRIMARY KEY (job_id, seq)
	) WITHOUT ROWID;
	CREATE TABLE audit_log (
		id          INTEGER PRIMARY KEY,
		time        TEXT NOT NULL,
		dataset     TEXT NOT NULL,
		kind        TEXT NOT NULL,
		operation   TEXT NOT NULL,
		tracking_id TEXT NOT NULL,
		run_name    TEXT NOT NULL,
		run_stamp   TEXT NOT NULL,
		run_time    TEXT NOT NULL,
		client      TEXT NOT NULL,
		status      INTEGER NOT NULL,
		count       INTEGER NOT NULL,
		duration_ms REAL NOT NULL,
		detail      TEXT NOT NULL
	);
	CREATE INDEX audit_by_run ON audit_log (run_name, run_stamp, id);
	CREATE INDEX audit_by_kind ON audit_log (dataset, kind, id);
	CREATE INDEX audit_by_tracking ON audit_log (tracking_id, id);`,
	// 3: UUID aliases: a relinked resource keeps answering to its old UUIDs.
	`CREATE TABLE uuid_aliases (
		endpoint_id INTEGER NOT NULL REFERENCES endpoints(id),
		alias       TEXT NOT NULL,
		resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
		created     TEXT NOT NULL,
		PRIMARY KEY (endpoint_id, alias)
	) WITHOUT ROWID;
	CREATE INDEX uuid_aliases_resource ON uuid_aliases (resource_id);
	ALTER TABLE sync_job_entries ADD COLUMN aliases TEXT NOT NULL DEFAULT '';`,
	// 4: the endpoint registry (core 14): endpoints registered by applications.
	`CREATE TABLE registry_endpoints (
		id      INTEGER PRIMARY KEY AUTOINCREMENT,
		url     TEXT NOT NULL UNIQUE,
		etag    TEXT NOT NULL,
		payload BLOB NOT NULL,
		props   TEXT NOT NULL DEFAULT '{}',
		title   TEXT NOT NULL,
		version INTEGER NOT NULL,
		created TEXT NOT NULL,
		updated TEXT NOT NULL
	);`,
	// 5: big job requests (sync feed pages) live in files next to the
	// database until the job is done; the column names the file.
	`ALTER TABLE sync_jobs ADD COLUMN request_file TEXT NOT NULL DEFAULT '';`,
	// 6: causal contexts of resources applied without an end-of-feed merge
	// (see context.go). No foreign key: unreferenced rows are swept at open,
	// and a key would make each of those deletes scan the resources.
	`CREATE TABLE sync_contexts (
		id    INTEGER PRIMARY KEY,
		ticks TEXT NOT NULL UNIQUE
	);
	ALTER TABLE resources ADD COLUMN sync_context INTEGER;`,
	// 7: resources that never travelled (no UUID yet) found without a scan:
	// a source selection gives them a UUID, and that search must cost what
	// it finds, not the size of the table (issue 17).
	`CREATE INDEX resources_without_uuid ON resources (endpoint_id) WHERE uuid IS NULL;`,
	// 8: console: run summaries (one row per run, dataset and kind) and daily
	// counts per operation, kept by triggers on the audit log (backfilled
	// here), and the audit log indexed by operation, so that the console's
	// views read a few rows, never the whole log (see console.go).
	consoleMigration,
	// 9: device sync (sdata/mobile). Every write of a resource, whatever
	// made it (a local write, an applied sync entry, a device), takes the
	// next number of one exact, monotone change sequence in its
	// transaction (triggers: no writer can forget it); first_seq is the
	// number of the row's first write. Device downloads are index range
	// scans over (endpoint_id, seq). Then the mobile sync components, the
	// keys that seal versions, the device registry, and per device the
	// rows it holds (held) and the rows of responses not yet acknowledged
	// (pending).
	`ALTER TABLE resources ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE resources ADD COLUMN first_seq INTEGER NOT NULL DEFAULT 0;
	CREATE TABLE change_seq (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL);
	INSERT INTO change_seq (id, last) SELECT 1, coalesce(max(id), 0) FROM resources;
	UPDATE resources SET seq = id, first_seq = id;
	CREATE INDEX resources_seq ON resources (endpoint_id, seq);
	CREATE TRIGGER resources_seq_insert AFTER INSERT ON resources BEGIN
		UPDATE change_seq SET last = last + 1 WHERE id = 1;
		UPDATE resources SET seq = (SELECT last FROM change_seq WHERE id = 1),
			first_seq = (SELECT last FROM change_seq WHERE id = 1) WHERE id = NEW.id;
	END;
	CREATE TRIGGER resources_seq_update AFTER UPDATE OF etag, payload, props, deleted ON resources BEGIN
		UPDATE change_seq SET last = last + 1 WHERE id = 1;
		UPDATE resources SET seq = (SELECT last FROM change_seq WHERE id = 1) WHERE id = NEW.id;
	END;
	CREATE TABLE mobile_keys (
		id      INTEGER PRIMARY KEY,
		secret  BLOB NOT NULL,
		created TEXT NOT NULL,
		retired TEXT NOT NULL DEFAULT ''
	);
	CREATE TABLE mobile_components (
		alias   TEXT PRIMARY KEY,
		config  TEXT NOT NULL,
		created TEXT NOT NULL,
		updated TEXT NOT NULL
	) WITHOUT ROWID;
	CREATE TABLE mobile_devices (
		alias       TEXT NOT NULL,
		device      TEXT NOT NULL,
		user        TEXT NOT NULL,
		app         TEXT NOT NULL,
		app_version TEXT NOT NULL,
		first_sync  TEXT NOT NULL,
		last_sync   TEXT NOT NULL,
		last_status INTEGER NOT NULL,
		version_seq INTEGER NOT NULL,
		responses   INTEGER NOT NULL DEFAULT 0,
		syncs       INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (alias, device)
	) WITHOUT ROWID;
	CREATE TABLE mobile_held (
		alias   TEXT NOT NULL,
		device  TEXT NOT NULL,
		key     TEXT NOT NULL,
		seq     INTEGER NOT NULL,
		deleted INTEGER NOT NULL,
		record  TEXT NOT NULL,
		PRIMARY KEY (alias, device, key)
	) WITHOUT ROWID;
	CREATE TABLE mobile_pending (
		alias    TEXT NOT NULL,
		device   TEXT NOT NULL,
		response INTEGER NOT NULL,
		key      TEXT NOT NULL,
		seq      INTEGER NOT NULL,
		deleted  INTEGER NOT NULL,
		record   TEXT NOT NULL,
		PRIMARY KEY (alias, device, response, key)
	) WITHOUT ROWID;`,
	// 10: users, their grants, API tokens (secrets stored hashed) and the
	// auth epoch (bumped by every change of them, for the verifier's cache);
	// the audit log names the authenticated principal; jobs their owner.
	`CREATE TABLE users (
		id            INTEGER PRIMARY KEY,
		name          TEXT NOT NULL UNIQUE,
		password_hash TEXT NOT NULL,
		created       TEXT NOT NULL,
		disabled      INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE user_grants (
		user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		dataset TEXT NOT NULL,
		role    TEXT NOT NULL,
		PRIMARY KEY (user_id, dataset, role)
	) WITHOUT ROWID;
	CREATE TABLE api_tokens (
		id          INTEGER PRIMARY KEY,
		public_id   TEXT NOT NULL UNIQUE,
		name        TEXT NOT NULL UNIQUE,
		user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,
		grants      TEXT NOT NULL DEFAULT '[]',
		endpoints   TEXT NOT NULL DEFAULT '[]',
		device      TEXT NOT NULL DEFAULT '',
		secret_hash BLOB NOT NULL,
		created     TEXT NOT NULL,
		expires     TEXT NOT NULL DEFAULT '',
		revoked     TEXT NOT NULL DEFAULT '',
		last_used   TEXT NOT NULL DEFAULT ''
	);
	CREATE TABLE auth_epoch (
		id    INTEGER PRIMARY KEY CHECK (id = 1),
		epoch INTEGER NOT NULL
	);
	INSERT INTO auth_epoch (id, epoch) VALUES (1, 1);
	ALTER TABLE audit_log ADD COLUMN principal TEXT NOT NULL DEFAULT '';
	CREATE INDEX audit_by_principal ON audit_log (principal, id);
	ALTER TABLE sync_jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';`,
	// 11: a user may speak for endpoints (URL prefixes) as a sync
	// credential, as a token may.
	`ALTER TABLE users ADD COLUMN endpoints TEXT NOT NULL DEFAULT '[]';`,
	// 12: listing a kind costs the page, not the table (issue 17): the live
	// resources of each endpoint are counted by triggers (whatever writes
	// them), and a partial index of live resources in id order serves the
	// default order and its offsets without reading the rows skipped.
	`CREATE TABLE resource_counts (
		endpoint_id INTEGER PRIMARY KEY,
		live        INTEGER NOT NULL
	);
	INSERT INTO resource_counts (endpoint_id, live)
		SELECT e.id, (SELECT count(*) FROM resources r WHERE r.endpoint_id = e.id AND r.deleted = 0) FROM endpoints e;
	CREATE TRIGGER resources_count_insert AFTER INSERT ON resources WHEN NEW.deleted = 0 BEGIN
		INSERT INTO resource_counts (endpoint_id, live) VALUES (NEW.endpoint_id, 1)
			ON CONFLICT (endpoint_id) DO UPDATE SET live = live + 1;
	END;
	CREATE TRIGGER resources_count_delete AFTER DELETE ON resources WHEN OLD.deleted = 0 BEGIN
		UPDATE resource_counts SET live = live - 1 WHERE endpoint_id = OLD.endpoint_id;
	END;
	CREATE TRIGGER resources_count_update AFTER UPDATE OF deleted, endpoint_id ON resources
		WHEN (OLD.deleted = 0) <> (NEW.deleted = 0) OR OLD.endpoint_id <> NEW.endpoint_id BEGIN
		UPDATE resource_counts SET live = live - 1 WHERE endpoint_id = OLD.endpoint_id AND OLD.deleted = 0;
		INSERT INTO resource_counts (endpoint_id, live) SELECT NEW.endpoint_id, 1 WHERE NEW.deleted = 0
			ON CONFLICT (endpoint_id) DO UPDATE SET live = live + 1;
	END;
	CREATE INDEX resources_live ON resources (endpoint_id) WHERE deleted = 0;`,
	// 13: asynchronous per-device sync jobs (devjobs.go): the jobs and their
	// queue per device, their result rows, uploads by URL, issued cursors.
	devJobsMigration,
	// 14: device sync: the number of the last answer each device acknowledged
	// (a device presenting an older version was restored from a backup).
	`ALTER TABLE mobile_devices ADD COLUMN acked INTEGER NOT NULL DEFAULT 0;`,
	// 15: device registry indexes: the console pages the device registry by
	// last sync, newest first, all of it or one component's, one user's or
	// one device's (mobile_console.go); each index ends with the table's
	// key (alias, device), which makes the order total.
	`CREATE INDEX mobile_devices_recent ON mobile_devices (last_sync);
	CREATE INDEX mobile_devices_alias_recent ON mobile_devices (alias, last_sync);
	CREATE INDEX mobile_devices_user_recent ON mobile_devices (user, last_sync);
	CREATE INDEX mobile_devices_device ON mobile_devices (device);`,
	// 16: the change sequence is taken by the writes themselves (nextSeq in
	// sqlite.go), in the same statement that writes the row: the triggers of
	// migration 9 rewrote every written row a second time (a third of the
	// cost of applying a sync page).
	`DROP TRIGGER resources_seq_insert;
	DROP TRIGGER resources_seq_update;`,
	// 17: a source selection no longer copies every selected row (a copy
	// of the whole table for a first pass: 33 s before the first page at
	// 1M). A selected row holds only its resource's id (resource_id, the
	// other columns empty) for as long as the resource is what the
	// selection saw; the first write that would change what the feed
	// serves (the row updated or deleted, an alias added or removed)
	// copies the old version into the row first, by the triggers below, so
	// the feed stays what was selected whatever writes come after
	// (TestSelectionStaysWhatWasSelected).
	selectionSnapshotMigration(),
	// 18: an insert into resources counts its live row itself (addLive)
	// instead of by trigger: a writing trigger makes SQLite keep a
	// statement journal for every INSERT, which was about 40 % of the cost
	// of inserting a resource (18 against 31-35 us a row on a 100k table).
	// A sync page adds its new rows to the count once, at its end.
	`DROP TRIGGER resources_count_insert;`,
}

// selectionSnapshotMigration is migration 17: lazy selection rows and the
// triggers that keep them what was selected.
func selectionSnapshotMigration() string {
	return `ALTER TABLE sync_job_entries ADD COLUMN resource_id INTEGER;
	CREATE INDEX sync_job_entries_lazy ON sync_job_entries (resource_id) WHERE resource_id IS NOT NULL;
	CREATE TRIGGER selection_keep_update AFTER UPDATE ON resources
		WHEN EXISTS (SELECT 1 FROM sync_job_entries WHERE resource_id = OLD.id) BEGIN
		` + keepSelectedOld + `
	END;
	CREATE TRIGGER selection_keep_delete AFTER DELETE ON resources
		WHEN EXISTS (SELECT 1 FROM sync_job_entries WHERE resource_id = OLD.id) BEGIN
		` + keepSelectedOld + `
	END;
	CREATE TRIGGER selection_keep_alias_insert BEFORE INSERT ON uuid_aliases
		WHEN EXISTS (SELECT 1 FROM sync_job_entries WHERE resource_id = NEW.resource_id) BEGIN
		` + keepSelectedOf("NEW.resource_id") + `
	END;
	CREATE TRIGGER selection_keep_alias_delete BEFORE DELETE ON uuid_aliases
		WHEN EXISTS (SELECT 1 FROM sync_job_entries WHERE resource_id = OLD.resource_id) BEGIN
		` + keepSelectedOf("OLD.resource_id") + `
	END;
	CREATE TRIGGER selection_keep_alias_update BEFORE UPDATE ON uuid_aliases BEGIN
		` + keepSelectedOf("OLD.resource_id") + `
		` + keepSelectedOf("NEW.resource_id") + `
	END;`
}

// keepSelectedOld copies OLD (a resources row, its aliases unchanged) into
// the lazy selection rows of it. endpoint and tick were written at the
// selection (the resource's sync state was the selected one).
const keepSelectedOld = `UPDATE sync_job_entries SET key = OLD.key, uuid = coalesce(OLD.uuid, ''), etag = OLD.etag,
			payload = OLD.payload, title = OLD.title, deleted = OLD.deleted, change = OLD.change, stamp = OLD.sync_stamp,
			user = OLD.sync_user, updated = OLD.updated,
			aliases = coalesce((SELECT group_concat(a.alias, ' ') FROM uuid_aliases a WHERE a.resource_id = OLD.id), ''),
			resource_id = NULL
		WHERE resource_id = OLD.id;`

// keepSelectedOf copies the resource whose id is the SQL expression id (an
// alias row's NEW.resource_id or OLD.resource_id), unchanged so far, with its
// aliases as they are before the alias write that fires the trigger, into
// its lazy selection rows.
func keepSelectedOf(id string) string {
	return strings.ReplaceAll(`UPDATE sync_job_entries SET (key, uuid, etag, payload, title, deleted, change, stamp, user, updated, aliases, resource_id) =
			(SELECT r.key, coalesce(r.uuid, ''), r.etag, r.payload, r.title, r.deleted, r.change, r.sync_stamp, r.sync_user, r.updated,
				coalesce((SELECT group_concat(a.alias, ' ') FROM uuid_aliases a WHERE a.resource_id = r.id), ''), NULL
			FROM resources r WHERE r.id = {id})
		WHERE resource_id = {id} AND EXISTS (SELECT 1 FROM resources WHERE id = {id});`, "{id}", id)
}
