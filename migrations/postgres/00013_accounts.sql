-- +goose Up
-- Where a session was opened from, so its user can tell their sessions
-- apart and end the ones they do not know.
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';

-- API tokens of users: only the token's SHA-256 is stored, as for the
-- admin's api_tokens. name is unique per user; scopes is a comma-separated
-- list narrowing the token to some of its user's permissions, '' for all
-- of them. A token without expires_at does not expire.
CREATE TABLE user_tokens (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    BYTEA NOT NULL UNIQUE,
    scopes        TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ,
    UNIQUE (user_id, name)
);

-- Invitations to become a user with role: the link holds a random token,
-- only its SHA-256 is stored. email is '' when the holder chooses it (the
-- first owner's setup invitation); invited_by is '' for the server or the
-- admin token. Accepting sets accepted_at and the user_id it made, once.
CREATE TABLE invitations (
    id           TEXT PRIMARY KEY,
    token_hash   BYTEA NOT NULL UNIQUE,
    email        TEXT NOT NULL DEFAULT '',
    role         TEXT NOT NULL,
    invited_by   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    accepted_at  TIMESTAMPTZ,
    user_id      TEXT
);

-- The audit log: who (actor_*) did what (action) to what (target_*),
-- when and from where. Rows are only appended, and removed by age; the id
-- orders them. detail is a JSON object, '{}' when there is none.
CREATE TABLE audit_events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           TIMESTAMPTZ NOT NULL,
    -- user, token, admin, anonymous or system.
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT NOT NULL DEFAULT '',
    actor_name   TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT '',
    action       TEXT NOT NULL,
    target_kind  TEXT NOT NULL DEFAULT '',
    target_id    TEXT NOT NULL DEFAULT '',
    target_name  TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT '{}'
);
-- Rate limits count recent events of an action by actor name (failed
-- logins to an email) or by address; pruning removes by age.
CREATE INDEX audit_events_by_actor ON audit_events (action, actor_name, at);
CREATE INDEX audit_events_by_ip ON audit_events (action, ip, at);
CREATE INDEX audit_events_by_age ON audit_events (at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE invitations;
DROP TABLE user_tokens;
ALTER TABLE sessions DROP COLUMN user_agent, DROP COLUMN ip;
