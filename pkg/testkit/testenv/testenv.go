// Package testenv gives tests real dependencies: a PostgreSQL server (one per
// test binary, one fresh database per test) and an embedded NATS server with
// JetStream. Import it from _test.go files only.
//
// PostgreSQL comes from BCREG_TEST_DATABASE_URL when set (a superuser URL of
// a server the tests may create databases on), else from testcontainers-go
// when built with the `testcontainers` tag and a Docker engine answers, else
// from the machine's server binaries (see package localpg).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/testkit/localpg"
)

var (
	pgOnce    sync.Once
	pgAdmin   string // URL of the maintenance database
	pgErr     error
	stopMu    sync.Mutex
	stoppable []func()
)

// Run runs the tests of a package and then stops the servers they started.
// Use it in TestMain: func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }.
//
// A test binary that NewCluster re-executed as a cluster node
// (WithNodeProcesses) serves the node instead of running tests.
func Run(m *testing.M) int {
	if serveNode() {
		return 0
	}
	code := m.Run()
	stopMu.Lock()
	defer stopMu.Unlock()
	for i := len(stoppable) - 1; i >= 0; i-- {
		stoppable[i]()
	}
	return code
}

func atExit(f func()) {
	stopMu.Lock()
	defer stopMu.Unlock()
	stoppable = append(stoppable, f)
}

// AdminURL returns the URL of the shared server's maintenance database,
// starting the server on first use. Tests that need no database of their own
// (for example to check an unreachable-server error) should not call it.
func AdminURL(t testing.TB) string {
	t.Helper()
	pgOnce.Do(startPostgres)
	if pgErr != nil {
		t.Fatalf("testenv: PostgreSQL: %v", pgErr)
	}
	return pgAdmin
}

func startPostgres() {
	if u := os.Getenv("BCREG_TEST_DATABASE_URL"); u != "" {
		pgAdmin = u
		return
	}
	if u, stop, ok := startContainer(); ok {
		pgAdmin = u
		atExit(stop)
		return
	}
	srv, stop, err := startLocal()
	if err != nil {
		pgErr = err
		return
	}
	pgAdmin = srv.URL("postgres")
	atExit(stop)
}

// NewPostgres starts a PostgreSQL server of the test's own from the local
// binaries, stopped when the test ends, for a test that stops or restarts
// its server (the others share one through NewDatabase).
func NewPostgres(t testing.TB) *localpg.Server {
	t.Helper()
	srv, stop, err := startLocal()
	if err != nil {
		t.Fatalf("testenv: PostgreSQL: %v", err)
	}
	t.Cleanup(stop)
	return srv
}

// startLocal starts a server from the local binaries in a new temporary
// directory; stop stops it and removes the directory.
func startLocal() (srv *localpg.Server, stop func(), err error) {
	dir, err := os.MkdirTemp("", "bcreg-testpg-")
	if err != nil {
		return nil, nil, err
	}
	// MkdirTemp makes 0700; the server may run as another user (root case).
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err = localpg.Start(ctx, localpg.Options{DataDir: dir + "/data", LogFile: dir + "/postgres.log"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return srv, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = srv.Stop(ctx)
		os.RemoveAll(dir)
	}, nil
}

// NewDatabase creates a fresh empty database on the shared server and
// returns its URL; the database is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return createDatabase(t, "")
}

// CreateDatabaseFrom creates a database as a copy of template (which must
// have no open connections) and returns its URL; dropped when the test ends.
func CreateDatabaseFrom(t testing.TB, template string) string {
	t.Helper()
	return createDatabase(t, template)
}

func createDatabase(t testing.TB, template string) string {
	t.Helper()
	admin := AdminURL(t)
	name := "t_" + randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: connect admin: %v", err)
	}
	defer conn.Close(ctx)
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		stmt += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("testenv: %s: %v", stmt, err)
	}
	t.Cleanup(func() { DropDatabase(t, name) })
	return DatabaseURL(admin, name)
}

// DropDatabase drops a database of the shared server, ending its sessions.
func DropDatabase(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, AdminURL(t))
	if err != nil {
		t.Logf("testenv: drop %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Logf("testenv: drop %s: %v", name, err)
	}
}

// DatabaseName returns the database name of a URL.
func DatabaseName(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Path, "/")
}

// DatabaseURL returns base with its database replaced by name.
func DatabaseURL(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}

// NewPool creates a fresh database and a pool on it, closed when the test ends.
func NewPool(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	u := NewDatabase(t)
	return Pool(t, u), u
}

// Pool opens a pool on dbURL, closed when the test ends.
func Pool(t testing.TB, dbURL string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("testenv: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Context returns a context cancelled when the test ends.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
