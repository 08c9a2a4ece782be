package nodes

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	_ "github.com/glebarez/go-sqlite"  // the "sqlite" database/sql driver
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Database dialects of db.write.
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite"
)

// Databases keeps one connection pool per database credential, for
// db.write. It does not go through the HTTP SSRF guard: databases usually
// live on private networks, and only users with API access create
// credentials.
type Databases struct {
	mu    sync.Mutex
	pools map[string]*pool // by credential name
}

type pool struct {
	url     string // the credential's URL the pool was opened with
	dialect string
	db      *sql.DB
}

// NewDatabases returns an empty set of pools.
func NewDatabases() *Databases { return &Databases{pools: map[string]*pool{}} }

// Open returns the pool for a database credential and its dialect. A
// credential whose URL changed gets a new pool; the old one is closed.
func (d *Databases) Open(_ context.Context, cred *Credential) (*sql.DB, string, error) {
	raw := cred.String("url")
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.pools[cred.Name]; ok {
		if p.url == raw {
			return p.db, p.dialect, nil
		}
		_ = p.db.Close()
		delete(d.pools, cred.Name)
	}
	dialect, dsn, err := DatabaseDSN(raw)
	if err != nil {
		return nil, "", Permanent(fmt.Errorf("credential %q: %w", cred.Name, err))
	}
	driver := "pgx"
	if dialect == DialectSQLite {
		driver = "sqlite"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, "", Permanent(fmt.Errorf("credential %q: %w", cred.Name, err))
	}
	db.SetMaxOpenConns(4)
	if dialect == DialectSQLite {
		db.SetMaxOpenConns(1) // SQLite has one writer.
	}
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(30 * time.Minute)
	d.pools[cred.Name] = &pool{url: raw, dialect: dialect, db: db}
	return db, dialect, nil
}

// Close closes every pool.
func (d *Databases) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for name, p := range d.pools {
		errs = append(errs, p.db.Close())
		delete(d.pools, name)
	}
	return errors.Join(errs...)
}

// DatabaseDSN reads a database credential's URL: the dialect and what its
// driver opens. Postgres URLs are used as they are; sqlite:///abs/path.db
// (or sqlite:path.db) opens a file in WAL mode.
func DatabaseDSN(raw string) (dialect, dsn string, err error) {
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return "", "", errors.New("is not a valid postgres:// URL")
		}
		return DialectPostgres, raw, nil
	case strings.HasPrefix(raw, "sqlite:"):
		path := strings.TrimPrefix(raw, "sqlite:")
		if strings.HasPrefix(path, "//") {
			path = strings.TrimPrefix(path, "//") // sqlite:///abs/path → /abs/path
		}
		if path == "" || strings.ContainsAny(path, "?#") {
			return "", "", errors.New("names no SQLite file: use sqlite:///absolute/path.db")
		}
		pragmas := url.Values{"_pragma": {"busy_timeout(5000)", "journal_mode(WAL)"}}
		return DialectSQLite, "file:" + path + "?" + pragmas.Encode(), nil
	}
	return "", "", errors.New("must be postgres://user:password@host:5432/db or sqlite:///absolute/path.db")
}
