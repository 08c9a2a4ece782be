-- +goose Up
-- People who sign in to the editor and the API. email is kept lower-case
-- and is unique; password_hash is a bcrypt hash; role is owner, admin,
-- editor or viewer.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL DEFAULT '',
    password_hash  BYTEA NOT NULL,
    role           TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- A session belongs to the user who signed in; none for one opened with
-- the admin token. A user's removal ends their sessions.
ALTER TABLE sessions ADD COLUMN user_id TEXT REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX sessions_by_user ON sessions (user_id) WHERE user_id IS NOT NULL;

-- +goose Down
DROP INDEX sessions_by_user;
ALTER TABLE sessions DROP COLUMN user_id;
DROP TABLE users;
