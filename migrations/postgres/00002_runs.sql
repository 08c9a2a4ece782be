-- +goose Up
-- The runs table is also the queue: a queued run is claimed by a worker,
-- which holds a lease on it and renews it while it works. A run whose lease
-- lapsed (its worker died) is claimed again and resumes from its steps.
CREATE TABLE runs (
    id                TEXT PRIMARY KEY,
    flow_id           TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    flow_version      INTEGER NOT NULL,
    -- queued, running, succeeded, failed or canceled.
    status            TEXT NOT NULL,
    -- webhook, cron, manual, test or replay.
    trigger_type      TEXT NOT NULL,
    -- trigger_data is the trigger's data as JSON: what expressions see as trigger.
    trigger_data      TEXT NOT NULL,
    delivery_id       TEXT,
    replay_of         TEXT,
    error             TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL,
    started_at        TIMESTAMPTZ,
    finished_at       TIMESTAMPTZ,
    -- A run may be claimed from available_at on. For a queued run that is
    -- now, or later when it waits for a retry's backoff or a delay; for a
    -- running one it is when its worker's lease lapses: a worker renews
    -- its lease by moving available_at on, and a run whose worker died is
    -- claimed again once it passes.
    available_at      TIMESTAMPTZ NOT NULL,
    lease_owner       TEXT,
    claims            INTEGER NOT NULL DEFAULT 0,
    cancel_requested  BOOLEAN NOT NULL DEFAULT FALSE
);

-- Claims search by status and available_at and stop at their limit: with
-- status first the planner never sorts a whole queue to claim a few runs.
CREATE INDEX runs_queue ON runs (status, available_at);
CREATE INDEX runs_by_flow ON runs (flow_id, id);
CREATE INDEX runs_by_status ON runs (status, id);

-- One row per attempt of a node. Rows of nodes inside a foreach carry the
-- iteration's path ("3", or "3.0" in a nested loop).
CREATE TABLE run_steps (
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node_id      TEXT NOT NULL,
    iteration    TEXT NOT NULL DEFAULT '',
    attempt      INTEGER NOT NULL,
    -- seq orders a run's steps as they started.
    seq          INTEGER NOT NULL,
    -- running, succeeded, failed or skipped.
    status       TEXT NOT NULL,
    -- port is the output port the step activated: '' for the unnamed
    -- output; NULL when it activated none.
    port         TEXT,
    input        TEXT,
    output       TEXT,
    error        TEXT NOT NULL DEFAULT '',
    logs         TEXT,
    -- interrupted attempts (shutdown, a lost worker) do not count against
    -- the node's max_attempts.
    interrupted  BOOLEAN NOT NULL DEFAULT FALSE,
    -- resume_at is when a waiting step goes on: the next attempt of a
    -- failed one, or the end of a delay.
    resume_at    TIMESTAMPTZ,
    started_at   TIMESTAMPTZ NOT NULL,
    duration_us  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, node_id, iteration, attempt)
);

-- +goose Down
DROP TABLE run_steps;
DROP TABLE runs;
