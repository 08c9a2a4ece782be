-- +goose Up
-- Each process that executes runs holds a row here and renews it while it
-- lives; the runs it executes name it in lease_owner. A row that expired
-- (its process died) gives its runs back to the queue, all at once: one
-- renewal per process instead of one per run in flight.
CREATE TABLE workers (
    id          TEXT PRIMARY KEY,
    started_at  DATETIME NOT NULL,
    expires_at  DATETIME NOT NULL
);

-- concurrency is the current version's limit on runs of the flow in
-- flight at once, across every process; 0 is no limit.
ALTER TABLE flows ADD COLUMN concurrency INTEGER NOT NULL DEFAULT 0;

-- Partial indexes: a run a process takes on at once never enters the queue
-- index, and finishing it leaves only the running one.
DROP INDEX runs_queue;
-- Claims find the flows with queued runs, then each one's oldest due runs.
CREATE INDEX runs_queued ON runs (flow_id, available_at) WHERE status = 'queued';
-- Per-flow limits count running runs; the reclaim of a dead process's runs
-- reads their owners.
CREATE INDEX runs_running ON runs (flow_id, lease_owner) WHERE status = 'running';
-- A process asks which of its runs someone canceled.
CREATE INDEX runs_cancel ON runs (lease_owner) WHERE cancel_requested AND status = 'running';

-- Step values become BLOBs: large ones are stored zstd-compressed. A step's
-- input is no longer a copy: input_from names the node, in the same
-- iteration, whose output it was (NULL when input holds it, as for a loop's
-- element). The trigger step's output is the run's trigger data, kept once.
CREATE TABLE run_steps_new (
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node_id      TEXT NOT NULL,
    iteration    TEXT NOT NULL DEFAULT '',
    attempt      INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    status       TEXT NOT NULL,
    port         TEXT,
    input        BLOB,
    input_from   TEXT,
    output       BLOB,
    error        TEXT NOT NULL DEFAULT '',
    logs         TEXT,
    interrupted  BOOLEAN NOT NULL DEFAULT FALSE,
    resume_at    DATETIME,
    started_at   DATETIME NOT NULL,
    duration_us  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, node_id, iteration, attempt)
);
INSERT INTO run_steps_new (run_id, node_id, iteration, attempt, seq, status, port, input, output, error, logs,
    interrupted, resume_at, started_at, duration_us)
SELECT run_id, node_id, iteration, attempt, seq, status, port, input, output, error, logs,
    interrupted, resume_at, started_at, duration_us FROM run_steps;
DROP TABLE run_steps;
ALTER TABLE run_steps_new RENAME TO run_steps;

-- +goose Down
CREATE TABLE run_steps_old (
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node_id      TEXT NOT NULL,
    iteration    TEXT NOT NULL DEFAULT '',
    attempt      INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    status       TEXT NOT NULL,
    port         TEXT,
    input        TEXT,
    output       TEXT,
    error        TEXT NOT NULL DEFAULT '',
    logs         TEXT,
    interrupted  BOOLEAN NOT NULL DEFAULT FALSE,
    resume_at    DATETIME,
    started_at   DATETIME NOT NULL,
    duration_us  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, node_id, iteration, attempt)
);
INSERT INTO run_steps_old SELECT run_id, node_id, iteration, attempt, seq, status, port, input, output, error, logs,
    interrupted, resume_at, started_at, duration_us FROM run_steps;
DROP TABLE run_steps;
ALTER TABLE run_steps_old RENAME TO run_steps;
DROP INDEX runs_cancel;
DROP INDEX runs_running;
DROP INDEX runs_queued;
CREATE INDEX runs_queue ON runs (status, available_at);
ALTER TABLE flows DROP COLUMN concurrency;
DROP TABLE workers;
