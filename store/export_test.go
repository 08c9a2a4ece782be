package store

import "context"

// ForeignKeysOff turns SQLite's foreign keys off on the writer's one
// connection, so tests can prove that deletions do not rely on them.
// Postgres keeps them.
func (db *DB) ForeignKeysOff(ctx context.Context) error {
	if db.dialect != DialectSQLite {
		return nil
	}
	return db.write.WithContext(ctx).Exec(`PRAGMA foreign_keys = OFF`).Error
}
