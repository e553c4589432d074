package jdbc

import (
	"context"
	"database/sql/driver"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	sqlite "modernc.org/sqlite"
)

// dialect is one database this input reaches through a Go driver in place
// of a JDBC driver.
type dialect struct {
	// name is the JDBC sub-protocol(s) (jdbc:<name>:…).
	names []string
	// classes are the JDBC driver classes that name it.
	classes []string
	// dollar numbers placeholders $1, $2… (PostgreSQL); otherwise "?".
	dollar bool
	// zoned is true when the driver reads and writes time-zone-less
	// timestamps in the database zone itself (MySQL's loc).
	zoned bool
	// textTime binds times as text (SQLite keeps them as text).
	textTime bool
}

var (
	postgres = &dialect{names: []string{"postgresql"}, classes: []string{"org.postgresql.Driver"}, dollar: true}
	mysqlDB  = &dialect{names: []string{"mysql", "mariadb"}, classes: []string{"com.mysql.jdbc.Driver", "com.mysql.cj.jdbc.Driver", "org.mariadb.jdbc.Driver", "org.gjt.mm.mysql.Driver"}, zoned: true}
	sqliteDB = &dialect{names: []string{"sqlite"}, classes: []string{"org.sqlite.JDBC"}, textTime: true}
	dialects = []*dialect{postgres, mysqlDB, sqliteDB}
)

// driverClasses lists the JDBC driver classes accepted, for messages.
func driverClasses() string {
	var cs []string
	for _, d := range dialects {
		cs = append(cs, d.classes...)
	}
	return strings.Join(cs, ", ")
}

// dialectOfClass maps a JDBC driver class ("Java::" prefix allowed) to a
// dialect.
func dialectOfClass(class string) (*dialect, bool) {
	class = strings.TrimPrefix(strings.TrimSpace(class), "Java::")
	for _, d := range dialects {
		for _, c := range d.classes {
			if c == class {
				return d, true
			}
		}
	}
	return nil, false
}

// conn is a parsed jdbc_connection_string.
type conn struct {
	d *dialect
	// hosts and db are PostgreSQL's and MySQL's; path is SQLite's file
	// (or ":memory:", or a "file:" URI).
	hosts  []string
	db     string
	path   string
	params url.Values
}

// parseConn reads a JDBC URL of one of the supported forms:
//
//	jdbc:postgresql://host[:port][,host2[:port]]/database[?params]
//	jdbc:postgresql:database     jdbc:postgresql:/     (localhost:5432)
//	jdbc:mysql://host[:port]/database[?params]    (jdbc:mariadb:// too)
//	jdbc:sqlite:path    jdbc:sqlite::memory:    jdbc:sqlite:file:path?params
func parseConn(s string) (*conn, error) {
	rest, ok := strings.CutPrefix(s, "jdbc:")
	if !ok {
		return nil, fmt.Errorf("%q is not a JDBC URL (jdbc:<database>:…)", redactConn(s))
	}
	proto, tail, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, fmt.Errorf("%q is not a JDBC URL (jdbc:<database>:…)", redactConn(s))
	}
	var d *dialect
	for _, dd := range dialects {
		for _, n := range dd.names {
			if n == proto {
				d = dd
			}
		}
	}
	if d == nil {
		return nil, fmt.Errorf("no Go driver for %q URLs; this input reaches PostgreSQL (jdbc:postgresql:), MySQL and MariaDB (jdbc:mysql:, jdbc:mariadb:) and SQLite (jdbc:sqlite:)", "jdbc:"+proto+":")
	}
	c := &conn{d: d, params: url.Values{}}
	if d == sqliteDB {
		if tail == "" {
			return nil, fmt.Errorf("jdbc:sqlite: needs a file path (jdbc:sqlite:/var/db/app.db) or :memory:")
		}
		c.path = tail
		return c, nil
	}
	query := ""
	if i := strings.IndexByte(tail, '?'); i >= 0 {
		tail, query = tail[:i], tail[i+1:]
	}
	if query != "" {
		// JDBC drivers also take ";" and "&" between properties.
		for _, kv := range strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' }) {
			k, v, _ := strings.Cut(kv, "=")
			uk, err1 := url.QueryUnescape(k)
			uv, err2 := url.QueryUnescape(v)
			if err1 != nil || err2 != nil {
				uk, uv = k, v
			}
			c.params.Add(uk, uv)
		}
	}
	if hp, ok := strings.CutPrefix(tail, "//"); ok {
		hostPart, db, _ := strings.Cut(hp, "/")
		c.db = db
		if hostPart != "" {
			for _, h := range strings.Split(hostPart, ",") {
				if strings.Contains(h, "@") {
					return nil, fmt.Errorf("put the user and password in jdbc_user and jdbc_password, not in the host of %q", redactConn(s))
				}
				c.hosts = append(c.hosts, h)
			}
		}
	} else {
		c.db = strings.TrimPrefix(tail, "/")
	}
	if len(c.hosts) == 0 {
		c.hosts = []string{"localhost"}
	}
	port := "5432"
	if d == mysqlDB {
		port = "3306"
		if len(c.hosts) > 1 {
			return nil, fmt.Errorf("MySQL URLs with several hosts are not supported: %q", redactConn(s))
		}
	}
	for i, h := range c.hosts {
		if _, _, err := net.SplitHostPort(h); err != nil {
			c.hosts[i] = net.JoinHostPort(strings.Trim(h, "[]"), port)
		}
		if _, p, _ := net.SplitHostPort(c.hosts[i]); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("bad port %q in %q", p, redactConn(s))
			}
		}
	}
	return c, nil
}

// redactConn hides the values of password-like properties of a JDBC URL.
func redactConn(s string) string {
	q := strings.IndexByte(s, '?')
	if q < 0 {
		return s
	}
	parts := strings.FieldsFunc(s[q+1:], func(r rune) bool { return r == '&' || r == ';' })
	for i, kv := range parts {
		k, _, ok := strings.Cut(kv, "=")
		if ok && strings.Contains(strings.ToLower(k), "password") {
			parts[i] = k + "=xxxxx"
		}
	}
	return s[:q+1] + strings.Join(parts, "&")
}

// pgParams maps PostgreSQL JDBC driver properties to libpq's (pgx reads
// libpq's); other properties are dropped and named in a warning.
var pgParams = map[string]string{
	"sslmode": "sslmode", "sslrootcert": "sslrootcert", "sslcert": "sslcert", "sslkey": "sslkey",
	"sslpassword": "sslpassword", "ApplicationName": "application_name", "currentSchema": "search_path",
	"connectTimeout": "connect_timeout", "options": "options", "targetServerType": "target_session_attrs",
}

// connector builds the database/sql connector. Credentials go into the
// driver's configuration, never into a string that could be printed.
func (c *conn) connector(user, password string, zone *time.Location) (driver.Connector, []string, error) {
	var dropped []string
	switch c.d {
	case postgres:
		q := url.Values{}
		if c.params.Get("ssl") == "true" && c.params.Get("sslmode") == "" {
			q.Set("sslmode", "verify-full") // the JDBC driver's ssl=true
		}
		for k, vs := range c.params {
			switch k {
			case "ssl", "user", "password":
				continue
			}
			if to, ok := pgParams[k]; ok {
				q.Set(to, vs[len(vs)-1])
			} else {
				dropped = append(dropped, k)
			}
		}
		if q.Get("target_session_attrs") == "primary" || q.Get("target_session_attrs") == "master" {
			q.Set("target_session_attrs", "read-write")
		}
		u := url.URL{Scheme: "postgres", Host: strings.Join(c.hosts, ","), Path: "/" + c.db, RawQuery: q.Encode()}
		cfg, err := pgconn.ParseConfig(u.String())
		if err != nil {
			return nil, nil, fmt.Errorf("postgresql connection: %w", err)
		}
		cfg.User = cmpOr(user, c.params.Get("user"))
		cfg.Password = cmpOr(password, c.params.Get("password"))
		for _, fb := range cfg.Fallbacks {
			fb.TLSConfig = cfg.TLSConfig // hosts share one TLS policy
		}
		sort.Strings(dropped)
		return newPGConnector(cfg), dropped, nil
	case mysqlDB:
		cfg := mysql.NewConfig()
		cfg.Net, cfg.Addr, cfg.DBName = "tcp", c.hosts[0], c.db
		cfg.User = cmpOr(user, c.params.Get("user"))
		cfg.Passwd = cmpOr(password, c.params.Get("password"))
		cfg.ParseTime, cfg.Loc = true, zone
		for k, vs := range c.params {
			v := vs[len(vs)-1]
			switch k {
			case "user", "password":
			case "useSSL":
				if v == "true" {
					cfg.TLSConfig = "skip-verify" // Connector/J's useSSL=true does not verify
				}
			case "sslMode":
				switch strings.ToUpper(v) {
				case "DISABLED":
					cfg.TLSConfig = "false"
				case "PREFERRED":
					cfg.TLSConfig = "preferred"
				case "REQUIRED":
					cfg.TLSConfig = "skip-verify"
				case "VERIFY_CA", "VERIFY_IDENTITY":
					cfg.TLSConfig = "true"
				}
			case "connectTimeout":
				if ms, err := strconv.Atoi(v); err == nil && ms > 0 {
					cfg.Timeout = time.Duration(ms) * time.Millisecond
				}
			case "socketTimeout":
				if ms, err := strconv.Atoi(v); err == nil && ms > 0 {
					cfg.ReadTimeout = time.Duration(ms) * time.Millisecond
				}
			case "characterEncoding", "useUnicode", "serverTimezone", "zeroDateTimeBehavior", "autoReconnect",
				"allowPublicKeyRetrieval", "useLegacyDatetimeCode", "useJDBCCompliantTimezoneShift", "tinyInt1isBit":
				// Connector/J's own conversions; the Go driver reads UTF-8
				// and times in the database zone (jdbc_default_timezone).
			default:
				dropped = append(dropped, k)
			}
		}
		sort.Strings(dropped)
		cn, err := mysql.NewConnector(cfg)
		return cn, dropped, err
	default:
		return sqliteConnector{dsn: c.path}, nil, nil
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sqliteConnector opens modernc.org/sqlite connections for one file.
type sqliteConnector struct{ dsn string }

func (s sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	return (&sqlite.Driver{}).Open(s.dsn)
}
func (s sqliteConnector) Driver() driver.Driver { return &sqlite.Driver{} }
