package nodes

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	sqlite "github.com/glebarez/go-sqlite" // the "sqlite" database/sql driver
	"github.com/go-sql-driver/mysql"       // the "mysql" database/sql driver
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

// openDatabase opens the pool of the database credential a node names (its
// secrets then redacted from the run's records), and its dialect.
func openDatabase(ctx context.Context, in *Input, credential string) (*sql.DB, string, error) {
	cred, err := in.Credential(ctx, credential, CredentialDatabase)
	if err != nil {
		return nil, "", err
	}
	if in.Services == nil || in.Services.Databases == nil {
		return nil, "", Permanent(errors.New("databases are not available here"))
	}
	return in.Services.Databases.Pool(ctx, cred)
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

// dbError says what went wrong with a database in the user's terms and
// whether another attempt could help. Final: the guard refusing the
// address, refused credentials, a database that does not exist, a
// read-only database, and what the server says about the statement itself
// (syntax, a missing table or column, a constraint, a value of the wrong
// type, a missing privilege). Retried: a database that does not answer,
// timeouts, deadlocks, too many connections.
func (s *Services) dbError(ctx context.Context, what string, err error) error {
	err = fmt.Errorf("%s: %w", what, err)
	if s.refused(err) {
		return Permanent(err)
	}
	if ctx.Err() != nil {
		return err
	}
	switch {
	case isReadOnly(err):
		return Permanent(fmt.Errorf("the database is read-only: %w", err))
	case refusedCredentials(err):
		return Permanent(fmt.Errorf("the database refused the credentials: %w", err))
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case pg.Code == "3D000":
			return Permanent(fmt.Errorf("the credential names a database that does not exist: %w", err))
		case strings.HasPrefix(pg.Code, "23"), strings.HasPrefix(pg.Code, "42"), strings.HasPrefix(pg.Code, "22"):
			return Permanent(err)
		}
		return err
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		switch my.Number {
		case 1049:
			return Permanent(fmt.Errorf("the credential names a database that does not exist: %w", err))
		case 1040, 1053, 1205, 1213, 1317, 1927: // too many connections, shutdown, lock wait, deadlock, interrupted, killed
			return err
		}
		// Syntax (1064), unknown column (1054) or table (1146), a
		// duplicate key (1062), and the rest of what the server says
		// about the statement itself.
		return Permanent(err)
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		const sqliteError, sqliteConstraint, sqliteMismatch = 1, 19, 20
		switch lite.Code() & 0xff {
		case sqliteError, sqliteConstraint, sqliteMismatch:
			// SQLITE_ERROR covers "no such table" and "no such column".
			return Permanent(err)
		}
		return err
	}
	var op *net.OpError
	if errors.As(err, &op) || errors.Is(err, driver.ErrBadConn) {
		return fmt.Errorf("the database did not answer: %w", err)
	}
	return err
}

// isReadOnly reports a database refusing a write because the transaction,
// the server or the file is read-only.
func isReadOnly(err error) bool {
	var pg *pgconn.PgError
	var my *mysql.MySQLError
	var lite *sqlite.Error
	switch {
	case errors.As(err, &pg):
		return pg.Code == "25006"
	case errors.As(err, &my):
		return my.Number == 1792 || my.Number == 1290 // read-only transaction; --read-only server
	case errors.As(err, &lite):
		return lite.Code()&0xff == 8 // SQLITE_READONLY
	}
	return false
}

// refusedCredentials reports a wrong password, an unknown user or a user
// without access to the database.
func refusedCredentials(err error) bool {
	var pg *pgconn.PgError
	var my *mysql.MySQLError
	switch {
	case errors.As(err, &pg):
		return strings.HasPrefix(pg.Code, "28")
	case errors.As(err, &my):
		return my.Number == 1044 || my.Number == 1045 || my.Number == 1698
	}
	return false
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

// mysqlSQLMode is the server's sql_mode less the modes that change how
// literals and quoted names are read.
const mysqlSQLMode = "REPLACE(REPLACE(@@sql_mode, 'ANSI_QUOTES', ''), 'NO_BACKSLASH_ESCAPES', '')"

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
	// db.query finds :name parameters by MySQL's default lexical rules:
	// '…' and "…" are strings with backslash escapes. A server set to
	// ANSI_QUOTES or NO_BACKSLASH_ESCAPES reads them otherwise, so each
	// connection takes those two modes off and keeps the rest.
	cfg.Params = map[string]string{"sql_mode": mysqlSQLMode}
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
