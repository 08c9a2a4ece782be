-- +goose Up
-- A run started by a flow.call step names the run that called it. When the
-- caller waits for it, parent_node, parent_iteration and parent_attempt name
-- the waiting step, which the run's end signals; a run the caller did not
-- wait for has no parent_node. call_depth counts the calls that led to the
-- run, bounding recursion.
ALTER TABLE runs ADD COLUMN parent_run_id TEXT;
ALTER TABLE runs ADD COLUMN parent_node TEXT;
ALTER TABLE runs ADD COLUMN parent_iteration TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN parent_attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN call_depth INTEGER NOT NULL DEFAULT 0;
-- wake is set when a signal arrives for the run: a queued run becomes due
-- at once, and a running one, when it goes back to the queue to wait, is
-- due at once too, since the signal may be what it waits for.
ALTER TABLE runs ADD COLUMN wake BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX runs_by_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;

-- A signal ends a step that waits on something outside its run: the
-- request to a wait.callback's resume URL, the end of a called run, or the
-- wait's timeout. The first signal of a step wins; a later one is refused,
-- so a resume URL works once and never after its wait timed out.
CREATE TABLE run_signals (
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node_id     TEXT NOT NULL,
    iteration   TEXT NOT NULL DEFAULT '',
    attempt     INTEGER NOT NULL,
    -- callback, child or timeout.
    kind        TEXT NOT NULL,
    payload     TEXT,
    created_at  DATETIME NOT NULL,
    PRIMARY KEY (run_id, node_id, iteration, attempt)
);

-- +goose Down
DROP TABLE run_signals;
DROP INDEX runs_by_parent;
ALTER TABLE runs DROP COLUMN wake;
ALTER TABLE runs DROP COLUMN call_depth;
ALTER TABLE runs DROP COLUMN parent_attempt;
ALTER TABLE runs DROP COLUMN parent_iteration;
ALTER TABLE runs DROP COLUMN parent_node;
ALTER TABLE runs DROP COLUMN parent_run_id;
