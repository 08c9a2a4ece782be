-- +goose Up
-- Nothing to do on Postgres, whose autovacuum reuses the space pruning
-- frees; SQLite's migration of this number turns on incremental vacuum.
SELECT 1;

-- +goose Down
SELECT 1;
