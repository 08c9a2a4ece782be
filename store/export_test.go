package store

import (
	"context"
	"fmt"
)

// MigrateDownTo rolls the migrations after version back, so tests can
// prove each Down half undoes its Up.
func (db *DB) MigrateDownTo(ctx context.Context, version int64) error {
	provider, err := db.migrations(ctx)
	if err != nil {
		return err
	}
	if _, err := provider.DownTo(ctx, version); err != nil {
		return fmt.Errorf("migrate %s down to %d: %w", db.dialect, version, err)
	}
	return nil
}

// ForeignKeysOff turns SQLite's foreign keys off on the writer's one
// connection, so tests can prove that deletions do not rely on them.
// Postgres keeps them.
func (db *DB) ForeignKeysOff(ctx context.Context) error {
	if db.dialect != DialectSQLite {
		return nil
	}
	return db.write.WithContext(ctx).Exec(`PRAGMA foreign_keys = OFF`).Error
}

// MaxOpenConns is the most connections the pool opens.
func (db *DB) MaxOpenConns() int {
	return db.sqlDBs[0].Stats().MaxOpenConnections
}
