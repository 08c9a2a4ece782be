-- +goose Up
-- Editor sessions: the browser holds a random id in an HttpOnly cookie; only
-- its SHA-256 is stored, as for API tokens.
CREATE TABLE sessions (
    id_hash     BYTEA PRIMARY KEY,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;
