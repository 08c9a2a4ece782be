-- +goose Up
-- Each process that executes runs holds a row here and renews it while it
-- lives; the runs it executes name it in lease_owner. A row that expired
-- (its process died) gives its runs back to the queue, all at once: one
-- renewal per process instead of one per run in flight, and no renewal
-- touching the rows that runs' own writes lock.
CREATE TABLE workers (
    id          TEXT PRIMARY KEY,
    started_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);

-- concurrency is the current version's limit on runs of the flow in
-- flight at once, across every process; 0 is no limit.
ALTER TABLE flows ADD COLUMN concurrency INTEGER NOT NULL DEFAULT 0;

-- Partial indexes: a run a process takes on at once never enters the queue
-- index, and finishing it leaves only the running one.
DROP INDEX runs_queue;
CREATE INDEX runs_queued ON runs (flow_id, available_at) WHERE status = 'queued';
CREATE INDEX runs_running ON runs (flow_id, lease_owner) WHERE status = 'running';
CREATE INDEX runs_cancel ON runs (lease_owner) WHERE cancel_requested AND status = 'running';

-- A run's step records, one row per write: a checkpoint, a finish, a
-- release. steps holds every record of that write, encoded by the store
-- (zstd-compressed when large); a later write's record of an attempt
-- replaces an earlier one's. One row per write instead of one per step is
-- what keeps the single SQLite writer, and Postgres, fast. n orders a
-- run's writes. A step's input is not copied: it names the step whose
-- output it was, and the trigger step's output is the run's trigger data,
-- kept once. Migration 00007 moves run_steps here.
CREATE TABLE run_records (
    run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    n       BIGINT NOT NULL,
    steps   BYTEA NOT NULL,
    PRIMARY KEY (run_id, n)
);
-- Large values are compressed already: Postgres need not try again.
ALTER TABLE run_records ALTER COLUMN steps SET STORAGE EXTERNAL;
ALTER TABLE deliveries ALTER COLUMN body SET STORAGE EXTERNAL;

-- +goose Down
ALTER TABLE deliveries ALTER COLUMN body SET STORAGE EXTENDED;
DROP TABLE run_records;
DROP INDEX runs_cancel;
DROP INDEX runs_running;
DROP INDEX runs_queued;
CREATE INDEX runs_queue ON runs (status, available_at);
ALTER TABLE flows DROP COLUMN concurrency;
DROP TABLE workers;
