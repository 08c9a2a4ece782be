-- +goose Up
-- The options of a test run from the editor, as JSON {"until": "node_id",
-- "pins": {"node_id": {"output": …, "port": "…"}}}: the node the run stops
-- after, and the outputs used instead of running nodes. Kept with the run
-- so a test run taken up again (after a wait, or by another worker) goes on
-- as it began. NULL for every other run.
ALTER TABLE runs ADD COLUMN test_options TEXT;

-- +goose Down
ALTER TABLE runs DROP COLUMN test_options;
