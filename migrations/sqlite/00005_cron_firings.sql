-- +goose Up
-- One row per firing of a cron trigger. The scheduler enqueues a firing's
-- run only when it adds the firing's row, in the same transaction: a tick
-- fires once across every instance sharing the database, even while the
-- scheduler's leadership passes from one to another. Rows are pruned with
-- old runs.
CREATE TABLE cron_firings (
    flow_id       TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    scheduled_at  DATETIME NOT NULL,
    run_id        TEXT NOT NULL,
    PRIMARY KEY (flow_id, scheduled_at)
);

-- +goose Down
DROP TABLE cron_firings;
