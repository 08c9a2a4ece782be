-- +goose Up
-- Credentials are sealed with AES-256-GCM before they reach the database;
-- data holds nonce and ciphertext. Nodes refer to a credential by name.
CREATE TABLE credentials (
    name        TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    data        BLOB NOT NULL,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);

-- Every request to a trigger: accepted (it started run_id), duplicate (of
-- the delivery that started run_id), rejected (reason says why), or
-- captured (a test event for someone listening; no run).
CREATE TABLE deliveries (
    id            TEXT PRIMARY KEY,
    flow_id       TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    status        TEXT NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    -- http_status is the status the sender was answered with.
    http_status   INTEGER NOT NULL,
    method        TEXT NOT NULL,
    -- path is what followed /hooks/<key>, query the raw query string.
    path          TEXT NOT NULL DEFAULT '',
    query         TEXT NOT NULL DEFAULT '',
    -- headers is a JSON object with lower-case names, credentials redacted.
    headers       TEXT NOT NULL,
    content_type  TEXT NOT NULL DEFAULT '',
    -- body is whole for accepted and captured deliveries (their runs read
    -- it), and capped for the rest; body_size is the size received.
    body          BLOB,
    body_size     INTEGER NOT NULL DEFAULT 0,
    dedupe_key    TEXT,
    run_id        TEXT,
    received_at   DATETIME NOT NULL
);

CREATE INDEX deliveries_by_flow ON deliveries (flow_id, id);

-- The delivery ids seen per flow, each until its dedupe window ends. Rows
-- are keyed by a 64-bit hash of flow and delivery id: an integer key is
-- far cheaper to insert into and look up than the random strings senders
-- use as ids; flow_id and key are kept to tell a hash collision.
CREATE TABLE dedupe_keys (
    hash        INTEGER PRIMARY KEY,
    flow_id     TEXT NOT NULL,
    key         TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    expires_at  DATETIME NOT NULL
);

-- Someone waits for a test event until listen_until: the trigger then
-- captures requests even while the flow is inactive.
ALTER TABLE flows ADD COLUMN listen_until DATETIME;

-- +goose Down
ALTER TABLE flows DROP COLUMN listen_until;
DROP TABLE dedupe_keys;
DROP TABLE deliveries;
DROP TABLE credentials;
