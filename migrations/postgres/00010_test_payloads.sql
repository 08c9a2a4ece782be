-- +goose Up
-- The payload (and headers) of a flow's last test run, as JSON
-- {"payload": …, "headers": {…}}, so the editor offers it again.
ALTER TABLE flows ADD COLUMN test_payload TEXT;

-- +goose Down
ALTER TABLE flows DROP COLUMN test_payload;
