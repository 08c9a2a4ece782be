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

-- Step values become bytea: large ones are stored zstd-compressed (so
-- Postgres need not compress them again). A step's input is no longer a
-- copy: input_from names the node, in the same iteration, whose output it
-- was. The trigger step's output is the run's trigger data, kept once.
ALTER TABLE run_steps
    ALTER COLUMN input TYPE BYTEA USING convert_to(input, 'UTF8'),
    ALTER COLUMN output TYPE BYTEA USING convert_to(output, 'UTF8'),
    ADD COLUMN input_from TEXT;
ALTER TABLE run_steps ALTER COLUMN input SET STORAGE EXTERNAL, ALTER COLUMN output SET STORAGE EXTERNAL;
ALTER TABLE deliveries ALTER COLUMN body SET STORAGE EXTERNAL;

-- +goose Down
ALTER TABLE deliveries ALTER COLUMN body SET STORAGE EXTENDED;
ALTER TABLE run_steps
    DROP COLUMN input_from,
    ALTER COLUMN input TYPE TEXT USING convert_from(input, 'UTF8'),
    ALTER COLUMN output TYPE TEXT USING convert_from(output, 'UTF8');
DROP INDEX runs_cancel;
DROP INDEX runs_running;
DROP INDEX runs_queued;
CREATE INDEX runs_queue ON runs (status, available_at);
ALTER TABLE flows DROP COLUMN concurrency;
DROP TABLE workers;
