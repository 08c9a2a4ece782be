-- +goose NO TRANSACTION
-- +goose Up
-- With incremental auto-vacuum the pruner hands the pages it frees back to
-- the file system, so the database file shrinks after retention removes
-- runs. Switching an existing database over needs one VACUUM, which
-- rewrites the file (it cannot run inside a transaction).
PRAGMA auto_vacuum = INCREMENTAL;
VACUUM;

-- +goose Down
PRAGMA auto_vacuum = NONE;
VACUUM;
