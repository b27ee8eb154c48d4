package store

// consoleMigration is the schema of the console's summaries (appended to
// migrations). audit_runs has one row per (run, dataset, kind): records,
// pages and entries applied as a target by outcome, entries selected and
// sent as a source, errors (statuses of 400 and above, conflicts' 409
// aside), work time, first and last record. audit_daily counts records per
// day, dataset, kind and operation (conflicts per kind per day). Both are
// kept by triggers in the transaction of the audit write.
const consoleMigration = consoleTables + consoleBackfill + consoleTriggers

const consoleTables = `CREATE TABLE audit_runs (
		run_name    TEXT NOT NULL,
		run_stamp   TEXT NOT NULL,
		dataset     TEXT NOT NULL,
		kind        TEXT NOT NULL,
		first_time  TEXT NOT NULL,
		last_time   TEXT NOT NULL,
		run_time    TEXT NOT NULL,
		records     INTEGER NOT NULL,
		pages       INTEGER NOT NULL,
		entries     INTEGER NOT NULL,
		applied     INTEGER NOT NULL,
		skipped     INTEGER NOT NULL,
		conflicts   INTEGER NOT NULL,
		invalid     INTEGER NOT NULL,
		selected    INTEGER NOT NULL,
		sent        INTEGER NOT NULL,
		errors      INTEGER NOT NULL,
		duration_ms REAL NOT NULL,
		PRIMARY KEY (run_name, run_stamp, dataset, kind)
	) WITHOUT ROWID;
	CREATE INDEX audit_runs_last ON audit_runs (last_time);
	CREATE TABLE audit_daily (
		day       TEXT NOT NULL,
		dataset   TEXT NOT NULL,
		kind      TEXT NOT NULL,
		operation TEXT NOT NULL,
		records   INTEGER NOT NULL,
		PRIMARY KEY (day, dataset, kind, operation)
	) WITHOUT ROWID;
	CREATE INDEX audit_by_operation ON audit_log (operation, id);
	CREATE INDEX audit_by_operation_kind ON audit_log (operation, dataset, kind, id);
	CREATE VIEW audit_run_rows AS SELECT id, run_name, run_stamp, dataset, kind, time, run_time,
		operation = 'target.applied' AS page,
		CASE WHEN operation = 'target.applied' THEN count ELSE 0 END AS entries,
		CASE WHEN operation = 'target.applied' AND json_valid(detail) THEN coalesce(json_extract(detail, '$.Apply'), 0) ELSE 0 END AS applied,
		CASE WHEN operation = 'target.applied' AND json_valid(detail) THEN coalesce(json_extract(detail, '$.Skip'), 0) ELSE 0 END AS skipped,
		CASE WHEN operation = 'target.applied' AND json_valid(detail) THEN coalesce(json_extract(detail, '$.ConflictSource'), 0) + coalesce(json_extract(detail, '$.ConflictTarget'), 0) ELSE 0 END AS conflicts,
		CASE WHEN operation = 'target.applied' AND json_valid(detail) THEN coalesce(json_extract(detail, '$.invalid'), 0) ELSE 0 END AS invalid,
		CASE WHEN operation = 'source.selected' THEN count ELSE 0 END AS selected,
		CASE WHEN operation = 'source.get' AND status = 200 THEN count ELSE 0 END AS sent,
		status >= 400 AND status <> 409 AS error,
		CASE WHEN operation IN ('target.applied', 'source.selected') THEN duration_ms ELSE 0 END AS work_ms
		FROM audit_log WHERE run_name <> '' OR run_stamp <> '';
`

// consoleBackfill fills the summaries from the records written before them.
const consoleBackfill = `
	INSERT INTO audit_runs SELECT run_name, run_stamp, dataset, kind, min(time), max(time), max(run_time), count(*), sum(page), sum(entries),
		sum(applied), sum(skipped), sum(conflicts), sum(invalid), sum(selected), sum(sent), sum(error), sum(work_ms)
		FROM audit_run_rows GROUP BY run_name, run_stamp, dataset, kind;
	INSERT INTO audit_daily SELECT substr(time, 1, 10), dataset, kind, operation, count(*) FROM audit_log GROUP BY 1, 2, 3, 4;
`

// consoleTriggers keep the summaries in step with every audit write.
const consoleTriggers = `
	CREATE TRIGGER audit_runs_keep AFTER INSERT ON audit_log WHEN NEW.run_name <> '' OR NEW.run_stamp <> '' BEGIN
		INSERT INTO audit_runs SELECT run_name, run_stamp, dataset, kind, time, time, run_time, 1, page, entries, applied, skipped,
			conflicts, invalid, selected, sent, error, work_ms FROM audit_run_rows WHERE id = NEW.id
		ON CONFLICT (run_name, run_stamp, dataset, kind) DO UPDATE SET
			first_time = min(first_time, excluded.first_time), last_time = max(last_time, excluded.last_time),
			run_time = max(run_time, excluded.run_time), records = records + 1, pages = pages + excluded.pages,
			entries = entries + excluded.entries, applied = applied + excluded.applied, skipped = skipped + excluded.skipped,
			conflicts = conflicts + excluded.conflicts, invalid = invalid + excluded.invalid, selected = selected + excluded.selected,
			sent = sent + excluded.sent, errors = errors + excluded.errors, duration_ms = duration_ms + excluded.duration_ms;
	END;
	CREATE TRIGGER audit_daily_keep AFTER INSERT ON audit_log BEGIN
		INSERT INTO audit_daily VALUES (substr(NEW.time, 1, 10), NEW.dataset, NEW.kind, NEW.operation, 1)
		ON CONFLICT (day, dataset, kind, operation) DO UPDATE SET records = records + 1;
	END;`
