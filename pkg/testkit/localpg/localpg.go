// Package localpg runs a private PostgreSQL server from the machine's server
// binaries (initdb, pg_ctl). Tests use it when no database URL is given, and
// `bcreg-dev run` uses it so `make run` needs nothing but Go and PostgreSQL.
//
// When the process runs as root, PostgreSQL refuses to start, so the server
// runs as the `postgres` user and its data directory must be reachable by that
// user (not under a 0700 home); callers choose such a directory with DataDirFor.
package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// Options says where and how the server runs.
type Options struct {
	// DataDir holds the cluster; it is initialised when it has no PG_VERSION.
	DataDir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// LogFile receives the server log; default DataDir/../postgres.log.
	LogFile string
}

// Server is a running local PostgreSQL.
type Server struct {
	opts   Options
	runAs  string // "" when the current user runs it
	binDir string
}

// Start initialises the cluster when needed and starts the server, waiting
// until it accepts connections. A server already running on the data directory
// (left by a crashed run) is stopped first so the port and settings are ours.
func Start(ctx context.Context, opts Options) (*Server, error) {
	binDir, err := findBinDir()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, binDir: binDir}
	if os.Geteuid() == 0 {
		s.runAs = "postgres"
		if _, err := user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("localpg: running as root needs a postgres user: %w", err)
		}
	}
	autoPort := s.opts.Port == 0
	if s.opts.LogFile == "" {
		s.opts.LogFile = filepath.Join(filepath.Dir(opts.DataDir), "postgres.log")
	}
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	// A stale server from a killed run would hold the data directory.
	_ = s.pgctl(ctx, "stop", "-m", "fast", "-w")
	// A free port can be taken by another process before the server binds
	// it: with a port of our choosing, try again on another one.
	for attempt := 1; ; attempt++ {
		if autoPort {
			if s.opts.Port, err = FreePort(); err != nil {
				return nil, err
			}
		}
		conf := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories='%s' -c fsync=off -c max_connections=200 -c shared_buffers=128MB",
			s.opts.Port, s.opts.DataDir)
		err = s.pgctl(ctx, "start", "-w", "-t", "60", "-l", s.opts.LogFile, "-o", conf)
		if err == nil {
			return s, nil
		}
		if !autoPort || attempt == 3 {
			return nil, fmt.Errorf("localpg: start server in %s: %w (log: %s)", opts.DataDir, err, tail(s.opts.LogFile))
		}
	}
}

// URL returns the connection URL of a database on the server (superuser
// postgres, trust authentication on loopback).
func (s *Server) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.opts.Port, database)
}

// Port is the TCP port the server listens on.
func (s *Server) Port() int { return s.opts.Port }

// Stop shuts the server down (fast mode: open sessions are ended).
func (s *Server) Stop(ctx context.Context) error {
	if err := s.pgctl(ctx, "stop", "-m", "fast", "-w", "-t", "30"); err != nil {
		return fmt.Errorf("localpg: stop server in %s: %w", s.opts.DataDir, err)
	}
	return nil
}

// Restart restarts the server with pg_ctl restart in the given shutdown
// mode ("immediate" is a crash: sessions are cut, recovery runs at start),
// keeping its port and settings.
func (s *Server) Restart(ctx context.Context, mode string) error {
	if err := s.pgctl(ctx, "restart", "-m", mode, "-w", "-t", "60", "-l", s.opts.LogFile); err != nil {
		return fmt.Errorf("localpg: restart server in %s: %w (log: %s)", s.opts.DataDir, err, tail(s.opts.LogFile))
	}
	return nil
}

func (s *Server) prepare(ctx context.Context) error {
	// Parents must be traversable by the server's user; the cluster
	// directory itself must be 0700 (initdb and the server insist).
	if err := os.MkdirAll(filepath.Dir(s.opts.DataDir), 0o755); err != nil {
		return fmt.Errorf("localpg: create data dir: %w", err)
	}
	if err := os.MkdirAll(s.opts.DataDir, 0o700); err != nil {
		return fmt.Errorf("localpg: create data dir: %w", err)
	}
	if s.runAs != "" {
		// The postgres user needs to reach the directory and own the cluster.
		if err := chownTo(s.runAs, s.opts.DataDir, filepath.Dir(s.opts.LogFile)); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(s.opts.DataDir, "PG_VERSION")); err == nil {
		return nil
	}
	cmd := s.command(ctx, "initdb", "-D", s.opts.DataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("localpg: initdb %s: %w: %s", s.opts.DataDir, err, bytes.TrimSpace(out))
	}
	return nil
}

func (s *Server) pgctl(ctx context.Context, args ...string) error {
	full := append([]string{"-D", s.opts.DataDir}, args...)
	cmd := s.command(ctx, "pg_ctl", full...)
	// pg_ctl start leaves the postmaster holding our stdout when it is a pipe,
	// which would block CombinedOutput until the server stops: use a file.
	out, err := os.CreateTemp("", "pg_ctl-*.out")
	if err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(out.Name())
		return fmt.Errorf("pg_ctl %s: %w: %s", args[0], err, bytes.TrimSpace(b))
	}
	return nil
}

func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	bin := filepath.Join(s.binDir, name)
	var cmd *exec.Cmd
	if s.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", s.runAs, "--", bin}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, bin, args...)
	}
	// The server must outlive a cancelled start context, and must not get the
	// terminal's SIGINT before we stop it in order.
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	cmd.SysProcAttr = detachAttr()
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

// DataDirFor returns a directory for cluster data that the server's user can
// reach: base itself for an ordinary user; for root (server runs as postgres)
// a directory under /var/tmp named after base, since base may sit under a
// 0700 home.
func DataDirFor(base string) string {
	if os.Geteuid() != 0 {
		return base
	}
	abs, _ := filepath.Abs(base)
	name := strings.Trim(strings.ReplaceAll(abs, "/", "-"), "-")
	return filepath.Join("/var/tmp/bcreg-events-pg", name)
}

// FreePort returns a TCP port on loopback that nothing listens on now,
// chosen below the kernel's ephemeral range where it can. A port from
// that range (what port 0 gives) may be taken by any outgoing connection
// before the server it is meant for binds it: a cluster node's route port
// was, with a second test run on the machine ("address already in use").
func FreePort() (int, error) {
	if lo := ephemeralLow(); lo > freePortFloor+1000 {
		for range 100 {
			port := freePortFloor + rand.IntN(lo-freePortFloor)
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				continue // in use: try another
			}
			l.Close()
			return port, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("localpg: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freePortFloor is the lowest port FreePort picks: above the well-known
// and most registered services' ports.
const freePortFloor = 20000

// ephemeralLow is the start of the kernel's ephemeral port range (0 when
// unknown).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

func findBinDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if resolved, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(resolved), nil
		}
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		return "", errors.New("localpg: PostgreSQL server binaries not found (pg_ctl on PATH or /usr/lib/postgresql/*/bin)")
	}
	// Highest version last in lexical order for single-digit-free majors (15 > 14).
	best := matches[len(matches)-1]
	return filepath.Dir(best), nil
}

func chownTo(username string, dirs ...string) error {
	u, err := user.Lookup(username)
	if err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("localpg: %w", err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			return fmt.Errorf("localpg: chown %s: %w", d, err)
		}
	}
	// Every parent must be traversable by the server user.
	for p := filepath.Dir(dirs[0]); p != "/" && p != "."; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("localpg: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("localpg: %s is not reachable by user %s (mode %v); choose a data dir with DataDirFor", p, username, fi.Mode().Perm())
		}
	}
	return nil
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}
