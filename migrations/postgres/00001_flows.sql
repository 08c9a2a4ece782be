-- +goose Up
-- A flow row points at its current version; every saved version is kept.
CREATE TABLE flows (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT FALSE,
    -- hook_key is the random part of the webhook trigger URL; it stays the
    -- same across versions.
    hook_key    TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE flow_versions (
    flow_id     TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    -- definition is the flow document (contract v1) as compact JSON.
    definition  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (flow_id, version)
);

-- API tokens are stored as SHA-256 hashes only.
CREATE TABLE api_tokens (
    name        TEXT PRIMARY KEY,
    token_hash  BYTEA NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE api_tokens;
DROP TABLE flow_versions;
DROP TABLE flows;
