package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/hookflow/hookflow/migrations"
)

// Dialects.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Options say which database to open.
type Options struct {
	// URL is a postgres:// URL, or a SQLite file path (optionally prefixed
	// with sqlite:). Empty means SQLite in DataDir.
	URL string
	// DataDir holds the SQLite database when URL is empty.
	DataDir string
	// Logger receives slow-query and error logs.
	Logger *slog.Logger
	// MaxConns is the most connections the Postgres pool opens: 0 means
	// DefaultMaxConns, and less than MinMaxConns is refused. SQLite,
	// with its one writer, ignores it.
	MaxConns int
	// OnCommitBatch, if set, is called with the number of writes
	// (deliveries, runs, step checkpoints) in each transaction the group
	// committer commits: the batch-size metric. It must not block.
	OnCommitBatch func(size int)
}

// DB is the Store on SQLite or Postgres.
type DB struct {
	dialect string
	// dsn is the Postgres URL, for connections outside the pool (Lead).
	dsn string
	// write takes every write. On SQLite it holds one connection, so writes
	// are serialized in-process instead of contending for the file lock.
	write *gorm.DB
	// read serves queries; on Postgres it is the same pool as write.
	read *gorm.DB
	// sqlDBs are the pools to close.
	sqlDBs []*sql.DB
	// commits group-commits the writes of the hot path: deliveries, runs
	// and steps.
	commits *committer
	// deliveries batches RecordDelivery calls into multi-row statements.
	deliveries *opKind
	// runWrites batches the writes of running runs (checkpoints, finishes,
	// releases) likewise.
	runWrites *opKind
}

var _ Store = (*DB)(nil)

// Open connects to the database. It does not migrate; call Migrate.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	gormConfig := &gorm.Config{
		Logger: logger.NewSlogLogger(opts.Logger, logger.Config{
			SlowThreshold:             time.Second,
			IgnoreRecordNotFoundError: true,
			ParameterizedQueries:      true,
			LogLevel:                  logger.Warn,
		}),
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return now() },
	}
	var (
		db  *DB
		err error
	)
	if strings.HasPrefix(opts.URL, "postgres://") || strings.HasPrefix(opts.URL, "postgresql://") {
		db, err = openPostgres(opts.URL, gormConfig, opts.OnCommitBatch, opts.MaxConns)
	} else {
		db, err = openSQLite(opts, gormConfig)
	}
	if err != nil {
		return nil, err
	}
	db.deliveries = &opKind{apply: db.applyDeliveries}
	db.runWrites = &opKind{apply: db.applyRunWrites}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Bounds of the Postgres pool.
const (
	// DefaultMaxConns serves many concurrent runs and committers.
	DefaultMaxConns = 32
	// MinMaxConns leaves a connection to read beside the committers.
	MinMaxConns = 4
)

func openPostgres(dsn string, config *gorm.Config, observe func(size int), maxConns int) (*DB, error) {
	if maxConns == 0 {
		maxConns = DefaultMaxConns
	}
	if maxConns < MinMaxConns {
		return nil, fmt.Errorf("open postgres: a pool of %d connections is too small; at least %d", maxConns, MinMaxConns)
	}
	g, err := gorm.Open(postgres.Open(dsn), config)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	// Several committers use several connections: Postgres commits in
	// parallel, and each still batches. They take at most half the pool.
	committers := min(4, maxConns/2)
	return &DB{dialect: DialectPostgres, dsn: dsn, write: g, read: g, sqlDBs: []*sql.DB{sqlDB}, commits: newCommitter(g, committers, observe)}, nil
}

func openSQLite(opts Options, config *gorm.Config) (*DB, error) {
	path := strings.TrimPrefix(opts.URL, "sqlite:")
	if path == "" {
		if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		path = filepath.Join(opts.DataDir, "hookflow.db")
	}
	// WAL lets readers run beside the writer; synchronous(FULL) makes each
	// commit durable, which is what a 2xx to a webhook promises. The WAL
	// file is cut back to 64 MiB after a checkpoint, so a burst does not
	// leave it large.
	pragmas := url.Values{"_pragma": {
		"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "journal_size_limit(67108864)",
	}}
	dsn := "file:" + path + "?" + pragmas.Encode()
	// The writer keeps its statements prepared: it runs the same few for
	// every run, and parsing them again would cost a fifth of its time.
	writeConfig := *config
	writeConfig.PrepareStmt = true
	write, err := gorm.Open(sqlite.Open(dsn), &writeConfig)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	writeDB, err := write.DB()
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	writeDB.SetMaxOpenConns(1)
	writeDB.SetConnMaxLifetime(0)
	writeDB.SetConnMaxIdleTime(0)

	pragmas["_pragma"] = append(pragmas["_pragma"], "query_only(1)")
	read, err := gorm.Open(sqlite.Open("file:"+path+"?"+pragmas.Encode()), config)
	if err != nil {
		writeDB.Close()
		return nil, fmt.Errorf("open sqlite %s for reading: %w", path, err)
	}
	readDB, err := read.DB()
	if err != nil {
		writeDB.Close()
		return nil, fmt.Errorf("open sqlite %s for reading: %w", path, err)
	}
	readDB.SetMaxOpenConns(8)
	readDB.SetMaxIdleConns(8)
	return &DB{dialect: DialectSQLite, write: write, read: read, sqlDBs: []*sql.DB{writeDB, readDB}, commits: newCommitter(write, 1, opts.OnCommitBatch)}, nil
}

// Dialect implements Store.
func (db *DB) Dialect() string { return db.dialect }

// Ping implements Store.
func (db *DB) Ping(ctx context.Context) error {
	for _, s := range db.sqlDBs {
		if err := s.PingContext(ctx); err != nil {
			return fmt.Errorf("ping %s: %w", db.dialect, err)
		}
	}
	return nil
}

// Close implements Store. Writes already submitted are committed first.
func (db *DB) Close() error {
	db.commits.close()
	var errs []error
	for _, s := range db.sqlDBs {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// Migrate applies the pending migrations of the database's dialect and
// returns the versions it applied.
func (db *DB) Migrate(ctx context.Context) ([]int64, error) {
	return db.MigrateTo(ctx, math.MaxInt64)
}

// MigrateTo applies the pending migrations up to version and returns the
// versions it applied: for upgrades done in steps, and their tests.
func (db *DB) MigrateTo(ctx context.Context, version int64) ([]int64, error) {
	provider, err := db.migrations(ctx)
	if err != nil {
		return nil, err
	}
	results, err := provider.UpTo(ctx, version)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", db.dialect, err)
	}
	applied := make([]int64, len(results))
	for i, r := range results {
		applied[i] = r.Source.Version
	}
	return applied, nil
}

// SchemaVersion returns the newest applied migration and whether any
// embedded migration is still pending.
func (db *DB) SchemaVersion(ctx context.Context) (version int64, pending bool, err error) {
	provider, err := db.migrations(ctx)
	if err != nil {
		return 0, false, err
	}
	if version, err = provider.GetDBVersion(ctx); err != nil {
		return 0, false, fmt.Errorf("read schema version: %w", err)
	}
	if pending, err = provider.HasPending(ctx); err != nil {
		return 0, false, fmt.Errorf("check pending migrations: %w", err)
	}
	return version, pending, nil
}

func (db *DB) migrations(ctx context.Context) (*goose.Provider, error) {
	sqlDB, err := db.write.DB()
	if err != nil {
		return nil, err
	}
	dir, err := fs.Sub(migrations.FS, db.dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", db.dialect, err)
	}
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithGoMigrations(recordsMigration(db.dialect == DialectPostgres))}
	if db.dialect == DialectPostgres {
		dialect = goose.DialectPostgres
		// Instances starting together on one Postgres migrate one at a time.
		// Advisory locks span the whole database, so the lock is keyed by
		// schema: separate schemas (tests, tenants) migrate independently.
		var schemaName string
		if err := db.write.WithContext(ctx).Raw("SELECT current_schema()").Scan(&schemaName).Error; err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		h := fnv.New64a()
		h.Write([]byte(schemaName))
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(lock.DefaultLockID^int64(h.Sum64()>>1)),
			lock.WithLockTimeout(1, 120),
		)
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	provider, err := goose.NewProvider(dialect, sqlDB, dir, opts...)
	if err != nil {
		return nil, fmt.Errorf("load %s migrations: %w", db.dialect, err)
	}
	return provider, nil
}

// now is the time records are stamped with: UTC, at the microsecond
// precision both databases keep, so a record reads back as it was written.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// records converts the rows of a listing to what the store returns.
func records[R, T any](rows []R, record func(*R) *T) []*T {
	out := make([]*T, len(rows))
	for i := range rows {
		out[i] = record(&rows[i])
	}
	return out
}
