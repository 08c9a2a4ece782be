-- +goose Up
-- Deleting a flow keeps it, out of sight, while runs or deliveries of it
-- are kept: they stay readable, with the flow's name and version, until
-- retention prunes them. Then the pruner removes the flow with its versions.
ALTER TABLE flows ADD COLUMN deleted_at DATETIME;

-- +goose Down
DELETE FROM flows WHERE deleted_at IS NOT NULL;
ALTER TABLE flows DROP COLUMN deleted_at;
