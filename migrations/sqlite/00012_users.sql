-- +goose Up
-- People who sign in to the editor and the API. email is kept lower-case
-- and is unique; password_hash is a bcrypt hash; role is owner, admin,
-- editor or viewer.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL DEFAULT '',
    password_hash  BLOB NOT NULL,
    role           TEXT NOT NULL,
    created_at     DATETIME NOT NULL,
    updated_at     DATETIME NOT NULL
);

-- A session belongs to the user who signed in; none for one opened with
-- the admin token. A user's removal ends their sessions.
ALTER TABLE sessions ADD COLUMN user_id TEXT REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX sessions_by_user ON sessions (user_id) WHERE user_id IS NOT NULL;

-- +goose Down
-- SQLite drops no column a foreign key uses: the table is made again.
CREATE TABLE sessions_before_users (
    id_hash     BLOB PRIMARY KEY,
    created_at  DATETIME NOT NULL,
    expires_at  DATETIME NOT NULL
);
INSERT INTO sessions_before_users SELECT id_hash, created_at, expires_at FROM sessions WHERE user_id IS NULL;
DROP TABLE sessions;
ALTER TABLE sessions_before_users RENAME TO sessions;
CREATE INDEX sessions_expiry ON sessions (expires_at);
DROP TABLE users;
