package e2e

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// secretPassword holds every character a URL reserves; the pieces between
// them are what must appear in no log line and no error, whole, encoded or
// in part.
const secretPassword = "Qz1#Wx2/Ev3@Rc4:Tb5%Yn6"

var secretPieces = []string{"Qz1", "Wx2", "Ev3", "Rc4", "Tb5", "Yn6"}

// TestNoPasswordInLogsOrErrors runs every service and every bcregctl command
// that reads a URL against a PostgreSQL role and a NATS user whose password
// is secretPassword, with the credentials given both ways (beside the URL and
// percent-encoded in it), at debug level; then each service again with the
// password pasted unencoded into each URL, and with a wrong password. The
// password shows up in none of their output.
func TestNoPasswordInLogsOrErrors(t *testing.T) {
	ctx := testenv.Context(t)
	admin := testenv.AdminURL(t)
	role := "bcreg_secret_test"
	adminConn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer adminConn.Close(ctx)
	mustExec := func(conn *pgx.Conn, sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	mustExec(adminConn, `DROP ROLE IF EXISTS `+role)
	mustExec(adminConn, `CREATE ROLE `+role+` LOGIN PASSWORD '`+strings.ReplaceAll(secretPassword, "'", "''")+`'`)
	requirePasswordAuth(t, adminConn, role)

	eventAdmin := testenv.NewDatabase(t)
	mustExec(adminConn, `ALTER DATABASE `+pgx.Identifier{testenv.DatabaseName(eventAdmin)}.Sanitize()+` OWNER TO `+role)
	sourceAdmin := sourcetest.WholeFixture(t, sourcetest.Template(t))
	src, err := pgx.Connect(ctx, sourceAdmin)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(src, `DO $$ DECLARE s text; BEGIN
		FOR s IN SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' LOOP
			EXECUTE format('GRANT USAGE ON SCHEMA %I TO `+role+`', s);
			EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO `+role+`', s);
		END LOOP; END $$`)
	src.Close(ctx)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err == nil {
			_, _ = c.Exec(context.Background(), `DROP OWNED BY `+role)
			c.Close(context.Background())
		}
	})

	// Connection settings without credentials, and with them encoded.
	bare := func(adminURL string) string {
		u, _ := url.Parse(adminURL)
		u.User = nil
		return u.String()
	}
	withCreds := func(adminURL string) string {
		u, _ := url.Parse(adminURL)
		u.User = url.UserPassword(role, secretPassword)
		return u.String()
	}
	enc := url.UserPassword("bcreg", secretPassword).String()

	// A NATS server that admits only bcreg with the password.
	ns := testenv.NewNATS(t, func(o *server.Options) { o.Username, o.Password = "bcreg", secretPassword })
	natsHost := strings.TrimPrefix(ns.URL(), "nats://")
	simAddr := freeAddr(t)
	sim := start(t, "vonx-sim", map[string]string{"BCREG_SIM_ADDR": simAddr, "BCREG_LOG_LEVEL": "debug"})
	waitHTTP(t, sim, "http://"+simAddr+"/health", time.Minute)

	base := map[string]string{
		"BCREG_PROFILE": "snapshot", "BCREG_MIGRATE": "true", "BCREG_JS_TOPOLOGY": "apply", "BCREG_LOG_LEVEL": "debug",
		"BCREG_SHUTDOWN_TIMEOUT": "5s", "BCREG_POLL_INTERVAL": "1s",
		"BCREG_AGENT_URL":     "http://" + enc + "@" + simAddr + "/bcreg",
		"BCREG_WEBHOOK_URL":   "http://" + enc + "@127.0.0.1:1/hook",
		"BCREG_CONSOLE_TOKEN": secretPassword,
	}
	// Services: the database credentials beside the URLs (as the manifests
	// give them), NATS's in its URL.
	services := merge(base, map[string]string{
		"BCREG_EVENT_DB_URL": bare(eventAdmin), "BCREG_EVENT_DB_USER": role, "BCREG_EVENT_DB_PASSWORD": secretPassword,
		"BCREG_SOURCE_DB_URL": bare(sourceAdmin), "BCREG_SOURCE_DB_USER": role, "BCREG_SOURCE_DB_PASSWORD": secretPassword,
		"BCREG_NATS_URL": "nats://" + enc + "@" + natsHost,
	})
	// bcregctl: the other way round.
	ctl := merge(base, map[string]string{
		"BCREG_EVENT_DB_URL": withCreds(eventAdmin), "BCREG_SOURCE_DB_URL": withCreds(sourceAdmin),
		"BCREG_NATS_URL": "nats://" + natsHost, "BCREG_NATS_USER": "bcreg", "BCREG_NATS_PASSWORD": secretPassword,
	})

	var outputs []*proc
	for _, svc := range []string{"event-poller", "credential-builder", "poster"} {
		addr := freeAddr(t)
		p := start(t, svc, merge(services, map[string]string{"BCREG_HTTP_ADDR": addr}))
		waitHTTP(t, p, "http://"+addr+"/readyz", time.Minute)
		outputs = append(outputs, p)
	}
	simc := &agentsim.Client{BaseURL: "http://" + simAddr}
	waitUntil(t, "a credential issued through the password-protected pipeline", 2*time.Minute, func() bool {
		st, err := simc.Stats(ctx)
		return err == nil && st.Issued > 0
	})
	for _, p := range outputs {
		if err := p.stop(t, 30*time.Second); err != nil {
			t.Errorf("%s: exit after SIGTERM: %v", p.name, err)
		}
	}

	run := func(bin string, env map[string]string, args ...string) *proc {
		t.Helper()
		p := start(t, bin, env, args...)
		p.name = bin + " " + strings.Join(args, " ")
		select {
		case <-p.done:
		case <-time.After(3 * time.Minute):
			t.Fatalf("%s did not finish", p.name)
		}
		return p
	}
	for _, c := range []struct {
		args []string
		ok   bool // connects and succeeds; the others fail after connecting (read-only role, not an original database)
	}{
		{[]string{"migrate"}, true}, {[]string{"status"}, true}, {[]string{"status", "--json"}, true},
		{[]string{"dlq", "list"}, true}, {[]string{"requeue", "failed", "--dry-run"}, true},
		{[]string{"requeue", "corp", "0191294"}, true}, {[]string{"generate", "--profile", "snapshot", "0191294"}, true},
		{[]string{"prune", "--seen-older-than", "720h"}, true}, {[]string{"initial-load", "--yes"}, false},
		{[]string{"adopt", "--dry-run", "--from", withCreds(eventAdmin)}, false},
	} {
		p := run("bcregctl", ctl, c.args...)
		if c.ok && p.err != nil {
			t.Errorf("%s: %v\n%s", p.name, p.err, p.out.String())
		}
		outputs = append(outputs, p)
	}
	// The dev kit's seeder reads the same settings; it fails after
	// connecting (the read-only role cannot create the registry's tables).
	outputs = append(outputs, run("bcreg-dev", ctl, "seed", "--synthetic", "1"))
	consoleAddr, sideAddr := freeAddr(t), freeAddr(t)
	console := start(t, "bcregctl", merge(ctl, map[string]string{"BCREG_HTTP_ADDR": sideAddr}), "console", "--addr", consoleAddr)
	console.name = "bcregctl console"
	waitHTTP(t, console, "http://"+sideAddr+"/readyz", time.Minute)
	for _, path := range []string{"/", "/dlq", "/corp?num=0191294"} {
		if resp, err := http.Get("http://" + consoleAddr + path); err == nil {
			resp.Body.Close()
		}
	}
	if err := console.stop(t, 30*time.Second); err != nil {
		t.Errorf("console: exit after SIGTERM: %v", err)
	}
	outputs = append(outputs, console)

	// Failures: the password pasted unencoded into each URL, and a wrong one.
	raw := "bcreg:" + secretPassword + "@"
	for _, fc := range []struct {
		name string
		env  map[string]string
		svcs []string // the services that read the setting
	}{
		{"raw in the event DB URL", map[string]string{"BCREG_EVENT_DB_URL": strings.Replace(bare(eventAdmin), "://", "://"+role+":"+secretPassword+"@", 1), "BCREG_EVENT_DB_PASSWORD": ""}, []string{"event-poller", "poster"}},
		{"raw in the source DB URL", map[string]string{"BCREG_SOURCE_DB_URL": strings.Replace(bare(sourceAdmin), "://", "://"+role+":"+secretPassword+"@", 1), "BCREG_SOURCE_DB_PASSWORD": ""}, []string{"event-poller", "credential-builder"}},
		{"raw in the NATS URL", map[string]string{"BCREG_NATS_URL": "nats://" + raw + natsHost}, []string{"event-poller", "poster"}},
		{"raw in the agent URL", map[string]string{"BCREG_AGENT_URL": "http://" + raw + simAddr + "/bcreg"}, []string{"poster"}},
		{"wrong database password", map[string]string{"BCREG_EVENT_DB_PASSWORD": secretPassword + "x"}, []string{"event-poller", "poster"}},
		{"wrong NATS password", map[string]string{"BCREG_NATS_URL": "nats://" + url.UserPassword("bcreg", secretPassword+"x").String() + "@" + natsHost}, []string{"event-poller", "poster"}},
	} {
		name, env := fc.name, fc.env
		for _, svc := range fc.svcs {
			p := start(t, svc, merge(services, map[string]string{"BCREG_HTTP_ADDR": freeAddr(t)}, env))
			p.name = svc + " (" + name + ")"
			select {
			case <-p.done:
				if p.err == nil {
					t.Errorf("%s: exited 0", p.name)
				}
			case <-time.After(2 * time.Minute):
				t.Errorf("%s: still running, want a start-up failure", p.name)
			}
			outputs = append(outputs, p)
		}
		p := run("bcregctl", merge(ctl, env), "status")
		p.name += " (" + name + ")"
		outputs = append(outputs, p)
	}

	lines := 0
	for _, p := range outputs {
		out := p.out.String()
		lines += strings.Count(out, "\n")
		for _, piece := range secretPieces {
			if strings.Contains(out, piece) {
				t.Errorf("%s: output shows %q of the password:\n%s", p.name, piece, out)
				break
			}
		}
	}
	t.Logf("%d runs, %d lines of output, no piece of the password in any", len(outputs), lines)
}

// requirePasswordAuth makes the test server demand a password from role
// over TCP (the test servers trust everyone) by a pg_hba.conf rule ahead
// of the others, undone when the test ends; it skips when the server's
// configuration is not on this machine.
func requirePasswordAuth(t *testing.T, adminConn *pgx.Conn, role string) {
	t.Helper()
	ctx := testenv.Context(t)
	var path string
	if err := adminConn.QueryRow(ctx, `SHOW hba_file`).Scan(&path); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("pg_hba.conf of the test server is not here (%v): cannot make it check passwords", err)
	}
	rule := "host all " + role + " 127.0.0.1/32 scram-sha-256\nhost all " + role + " ::1/128 scram-sha-256\n"
	if err := os.WriteFile(path, append([]byte(rule), orig...), 0o600); err != nil {
		t.Skipf("cannot write pg_hba.conf: %v", err)
	}
	reload := func() {
		if _, err := adminConn.Exec(context.Background(), `SELECT pg_reload_conf()`); err != nil {
			t.Errorf("reload: %v", err)
		}
	}
	t.Cleanup(func() {
		_ = os.WriteFile(path, orig, 0o600)
		c, err := pgx.Connect(context.Background(), testenv.AdminURL(t))
		if err == nil {
			_, _ = c.Exec(context.Background(), `SELECT pg_reload_conf()`)
			c.Close(context.Background())
		}
	})
	reload()
	wrong, _ := url.Parse(testenv.AdminURL(t))
	wrong.User = url.UserPassword(role, "not-the-password")
	testenv.WaitFor(t, "PostgreSQL to check "+role+"'s password", func() bool {
		c, err := pgx.Connect(ctx, wrong.String())
		if err == nil {
			c.Close(ctx)
			return false
		}
		return true
	})
}
