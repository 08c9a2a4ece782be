package nodes

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/glebarez/go-sqlite" // the "sqlite" database/sql driver
	"github.com/go-sql-driver/mysql"  // the "mysql" database/sql driver
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Database dialects of db.write and db.query.
const (
	DialectPostgres = "postgres"
	DialectMySQL    = "mysql" // MySQL and MariaDB
	DialectSQLite   = "sqlite"
)

// drivers names the database/sql driver of each dialect.
var drivers = map[string]string{DialectPostgres: "pgx", DialectMySQL: "mysql", DialectSQLite: "sqlite"}

// Databases keeps one connection pool per database credential, for
// db.write and db.query. Postgres and MySQL connections are dialled through
// the SSRF guard like every outbound request: a database on a private
// network is reached once the operator allows its host. SQLite opens a
// file on the server and dials nothing.
type Databases struct {
	dial  DialFunc // nil dials without a guard
	mu    sync.Mutex
	pools map[string]*pool // by credential name
}

type pool struct {
	url     string // the credential's URL the pool was opened with
	dialect string
	db      *sql.DB
}

// NewDatabases returns an empty set of pools whose connections are opened
// by dial (nil for a plain, unguarded dialer).
func NewDatabases(dial DialFunc) *Databases {
	return &Databases{dial: dial, pools: map[string]*pool{}}
}

// Open returns the pool of a database credential that db.write writes to,
// and its dialect. db.write builds Postgres and SQLite statements only
// ($1 placeholders, RETURNING), so a MySQL credential is refused for good
// rather than failing with a syntax error on every attempt.
func (d *Databases) Open(ctx context.Context, cred *Credential) (*sql.DB, string, error) {
	if dialect, _, err := DatabaseDSN(cred.String("url")); err == nil && dialect == DialectMySQL {
		return nil, "", Permanent(fmt.Errorf("credential %q: db.write does not write to MySQL or MariaDB yet; db.query reads from them", cred.Name))
	}
	return d.Pool(ctx, cred)
}

// Pool returns the pool for a database credential of any dialect, and the
// dialect. A credential whose URL changed gets a new pool; the old one is
// closed.
func (d *Databases) Pool(_ context.Context, cred *Credential) (*sql.DB, string, error) {
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
	db, err := d.open(dialect, dsn)
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

// open opens a pool whose connections are dialled by d.dial.
func (d *Databases) open(dialect, dsn string) (*sql.DB, error) {
	if d.dial == nil {
		return sql.Open(drivers[dialect], dsn)
	}
	switch dialect {
	case DialectPostgres:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, err
		}
		cfg.DialFunc = pgconn.DialFunc(d.dial)
		// The guard resolves the name itself, so a host name on its
		// allow-list is recognised as such.
		cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
		return stdlib.OpenDB(*cfg), nil
	case DialectMySQL:
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, err
		}
		cfg.DialFunc = d.dial
		connector, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(connector), nil
	}
	return sql.Open(drivers[dialect], dsn) // SQLite: a file, nothing dialled
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
// driver opens. Postgres URLs are used as they are; mysql:// URLs become
// the MySQL driver's DSN (see mysqlDSN); sqlite:///abs/path.db (or
// sqlite:path.db) opens a file in WAL mode.
func DatabaseDSN(raw string) (dialect, dsn string, err error) {
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return "", "", errors.New("is not a valid postgres:// URL")
		}
		return DialectPostgres, raw, nil
	case strings.HasPrefix(raw, "mysql://"), strings.HasPrefix(raw, "mariadb://"):
		dsn, err := mysqlDSN(raw)
		if err != nil {
			return "", "", err
		}
		return DialectMySQL, dsn, nil
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
	return "", "", errors.New("must be postgres://user:password@host:5432/db, mysql://user:password@host:3306/db or sqlite:///absolute/path.db")
}

// mysqlDSN turns mysql://user:password@host:3306/db?tls=true into the MySQL
// driver's DSN through its Config, so no part of the URL can smuggle in
// another option. Times are parsed into time.Time, in UTC. The query may set
// tls (true, false, skip-verify, preferred) and timeout (the dial timeout:
// a Go duration or whole seconds; 10s by default).
func mysqlDSN(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", errors.New("is not a valid mysql:// URL: use mysql://user:password@host:3306/db")
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if strings.Contains(cfg.DBName, "/") {
		return "", fmt.Errorf("names the database %q: a database name has no /", cfg.DBName)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Timeout = 10 * time.Second
	for key, values := range u.Query() {
		value := values[len(values)-1]
		switch key {
		case "tls":
			switch value {
			case "true", "false", "skip-verify", "preferred":
				cfg.TLSConfig = value
			default:
				return "", fmt.Errorf("tls=%q: use true, false, skip-verify or preferred", value)
			}
		case "timeout", "connect_timeout":
			d, err := time.ParseDuration(value)
			if secs, serr := strconv.Atoi(value); serr == nil {
				d, err = time.Duration(secs)*time.Second, nil
			}
			if err != nil || d <= 0 {
				return "", fmt.Errorf("%s=%q: use a duration such as 5s", key, value)
			}
			cfg.Timeout = d
		default:
			return "", fmt.Errorf("the option %q is not supported: use tls or timeout", key)
		}
	}
	return cfg.FormatDSN(), nil
}
