package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// testConfig looks like a service's config.
type testConfig struct {
	Logging
	HTTP
	NATS
	SourceDB
	EventDB
	Workers int `envconfig:"TEST_WORKERS" default:"4"`
}

func (c testConfig) ValidateConfig() error {
	if c.Workers < 1 {
		return fmt.Errorf("BCREG_TEST_WORKERS=%d: want at least 1", c.Workers)
	}
	return nil
}

func clearEnv(t *testing.T) {
	t.Helper()
	for _, name := range append(EnvNames(testConfig{}), "BC_REG_DB_HOST", "BC_REG_DB_PORT", "BC_REG_DB_DATABASE",
		"BC_REG_DB_USER", "BC_REG_DB_PASSWORD", "EVENT_PROC_DB_HOST", "EVENT_PROC_DB_PORT",
		"EVENT_PROC_DB_DATABASE", "EVENT_PROC_DB_USER", "EVENT_PROC_DB_PASSWORD") {
		unsetEnv(t, name)
	}
}

// unsetEnv removes a variable for the test (t.Setenv can only set it, and
// a set-but-empty variable is a value, not a default).
func unsetEnv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "") // registers the restore at cleanup
	os.Unsetenv(name)
}

func TestDefaultsAndOriginalFallbacks(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		wantSource string
		wantEvent  string
	}{
		{"original defaults", nil,
			"postgres://localhost:5454/BC_REGISTRIES", "postgres://bc_reg_db@localhost:5444/bc_reg_db"},
		{"original variables", map[string]string{
			"BC_REG_DB_HOST": "oracle-fdw", "BC_REG_DB_PORT": "5432", "BC_REG_DB_USER": "reader", "BC_REG_DB_PASSWORD": "pw1",
			"EVENT_PROC_DB_HOST": "epdb", "EVENT_PROC_DB_DATABASE": "events"},
			"postgres://reader:pw1@oracle-fdw:5432/BC_REGISTRIES", "postgres://bc_reg_db@epdb:5444/events"},
		{"new variables win", map[string]string{
			"BC_REG_DB_HOST": "ignored", "BCREG_SOURCE_DB_URL": "postgres://src/x", "BCREG_EVENT_DB_URL": "postgres://ev/y"},
			"postgres://src/x", "postgres://ev/y"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var cfg testConfig
			if err := Load(&cfg); err != nil {
				t.Fatal(err)
			}
			got := []string{cfg.SourceDB.URL.Value(), cfg.EventDB.URL.Value()}
			if diff := cmp.Diff([]string{tc.wantSource, tc.wantEvent}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if cfg.NATS.URL != "nats://127.0.0.1:4222" || cfg.Level != "info" || cfg.Format != "json" || cfg.Workers != 4 {
				t.Errorf("defaults not applied: %+v", cfg)
			}
		})
	}
}

func TestEveryProblemReportedAtOnce(t *testing.T) {
	clearEnv(t)
	t.Setenv("BCREG_LOG_LEVEL", "loud")
	t.Setenv("BCREG_HTTP_ADDR", "no-port")
	t.Setenv("BCREG_TEST_WORKERS", "0")
	t.Setenv("BCREG_NATS_URL", "::bad")
	var cfg testConfig
	err := Load(&cfg)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"BCREG_LOG_LEVEL", "BCREG_HTTP_ADDR", "BCREG_TEST_WORKERS", "BCREG_NATS_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestEveryParseErrorReportedAtOnce(t *testing.T) {
	clearEnv(t)
	t.Setenv("BCREG_TEST_WORKERS", "many")
	t.Setenv("BCREG_SHUTDOWN_TIMEOUT", "soon")
	t.Setenv("BCREG_MIGRATE", "perhaps")
	var cfg testConfig
	err := Load(&cfg)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"BCREG_TEST_WORKERS", "BCREG_SHUTDOWN_TIMEOUT", "BCREG_MIGRATE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	clearEnv(t)
	t.Setenv("BCREG_NATS_USER", "svc")
	t.Setenv("BCREG_NATS_PASSWORD", "natspw-123")
	t.Setenv("BCREG_SOURCE_DB_URL", "postgres://reader:dbpw-456@db:5432/bc?sslmode=disable")
	var cfg testConfig
	if err := Load(&cfg); err != nil {
		t.Fatal(err)
	}
	secrets := []string{"natspw-123", "dbpw-456"}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&out, verb+"\n", cfg)
		fmt.Fprintf(&out, verb+"\n", cfg.NATS.Password)
		fmt.Fprintf(&out, verb+"\n", cfg.SourceDB.URL)
	}
	b, _ := json.Marshal(cfg)
	out.Write(b)
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	log.Info("config", zap.Any("cfg", cfg), zap.Stringer("pw", cfg.NATS.Password), zap.Stringer("db", cfg.SourceDB.URL))
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	for _, e := range logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(buf.Bytes())
	}
	for _, s := range secrets {
		if strings.Contains(out.String(), s) {
			t.Errorf("secret %q printed:\n%s", s, out.String())
		}
	}
	if !strings.Contains(out.String(), "db:5432") {
		t.Errorf("redacted URL should still name the server:\n%s", out.String())
	}
	if cfg.NATS.Password.Value() != "natspw-123" {
		t.Error("Value does not return the secret")
	}
}

func TestNoTwoFieldsShareAVariable(t *testing.T) {
	if d := Duplicates(testConfig{}); len(d) != 0 {
		t.Errorf("duplicate variables: %v", d)
	}
	type clash struct {
		Logging
		Other string `envconfig:"LOG_LEVEL"`
	}
	if diff := cmp.Diff([]string{"BCREG_LOG_LEVEL"}, Duplicates(clash{})); diff != "" {
		t.Errorf("a clash is not reported (-want +got):\n%s", diff)
	}
}

// nastyPassword holds every character URLs reserve; its pieces between them
// are what must never show up, whole or in part.
const nastyPassword = "Qz1#Wx2/Ev3@Rc4:Tb5%Yn6?Um7 Io8"

var nastyPieces = []string{"Qz1", "Wx2", "Ev3", "Rc4", "Tb5", "Yn6", "Um7", "Io8"}

func leaks(text string) []string {
	var out []string
	for _, p := range nastyPieces {
		if strings.Contains(text, p) {
			out = append(out, p)
		}
	}
	return out
}

func TestRedactURLHidesEveryCredential(t *testing.T) {
	enc := url.UserPassword("u", nastyPassword).String() // u:<encoded>
	tests := []struct {
		name, raw, want string
	}{
		{"encoded password", "postgres://" + enc + "@db:5432/x?sslmode=disable", "postgres://u:xxxxx@db:5432/x?sslmode=disable"},
		{"raw password", "postgres://u:" + nastyPassword + "@db:5432/x", "postgres://u:xxxxx@db:5432/x"},
		{"raw password, numeric start", "postgres://u:12#Qz1@db/x", "postgres://u:xxxxx@db/x"},
		{"no password", "postgres://reader@db/x", "postgres://reader@db/x"},
		{"password parameter", "postgres://db/x?password=Qz1&sslmode=require", "postgres://db/x?password=xxxxx&sslmode=require"},
		{"nats list", "nats://" + enc + "@a:4222, nats://b:4222", "nats://u:xxxxx@a:4222,nats://b:4222"},
		{"nats token", "nats://Qz1Wx2@a:4222", "nats://xxxxx@a:4222"},
		{"raw password with a comma", "nats://u:Qz1,Wx2@a:4222", "nats://u:xxxxx@a:4222"},
		{"list with a broken piece", "nats://a:4222,Qz1 Wx2", redacted},
		{"agent basic auth", "https://" + enc + "@agent/bcreg", "https://u:xxxxx@agent/bcreg"},
		{"not a URL", "Qz1 Wx2", redacted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := RedactURL(tc.raw)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("RedactURL (-want +got):\n%s", diff)
			}
			if l := leaks(got); len(l) > 0 {
				t.Errorf("RedactURL(%q) = %q shows %v", tc.raw, got, l)
			}
		})
	}
}

func TestParseURLRefusesUnencodedCredentials(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		ok   bool
	}{
		{"encoded", "postgres://" + url.UserPassword("u", nastyPassword).String() + "@db/x", true},
		{"plain", "nats://u:pw@a:4222", true},
		{"hash after a numeric start (url.Parse takes it for a port)", "postgres://u:12#ab@db/x", false},
		{"slash after a numeric start", "postgres://u:12/ab@db/x", false},
		{"raw", "postgres://u:" + nastyPassword + "@db/x", false},
		{"bad escape", "nats://u:a%zz@a:4222", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseURL(tc.raw)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseURL: %v, want ok %v", err, tc.ok)
			}
			if err != nil && (strings.Contains(err.Error(), "ab") || len(leaks(err.Error())) > 0) {
				t.Errorf("error quotes the value: %v", err)
			}
		})
	}
}

func TestDatabaseUserAndPasswordSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    string // password pgx reads from the URL
		wantErr string
	}{
		{"password beside the URL", map[string]string{"BCREG_EVENT_DB_URL": "postgres://db:5432/ev?sslmode=disable",
			"BCREG_EVENT_DB_USER": "bcreg", "BCREG_EVENT_DB_PASSWORD": nastyPassword}, nastyPassword, ""},
		{"password beside the original variables", map[string]string{"EVENT_PROC_DB_HOST": "db", "EVENT_PROC_DB_PASSWORD": "old",
			"BCREG_EVENT_DB_PASSWORD": nastyPassword}, nastyPassword, ""},
		{"encoded in the URL", map[string]string{"BCREG_EVENT_DB_URL": "postgres://" + url.UserPassword("bcreg", nastyPassword).String() + "@db/ev"},
			nastyPassword, ""},
		{"both", map[string]string{"BCREG_EVENT_DB_URL": "postgres://bcreg:other@db/ev", "BCREG_EVENT_DB_PASSWORD": nastyPassword},
			"", "BCREG_EVENT_DB_URL carries a password and BCREG_EVENT_DB_PASSWORD is set"},
		{"raw in the URL", map[string]string{"BCREG_EVENT_DB_URL": "postgres://bcreg:" + nastyPassword + "@db/ev"},
			"", "BCREG_EVENT_DB_URL: not a valid URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			for _, n := range []string{"BCREG_EVENT_DB_USER", "BCREG_EVENT_DB_PASSWORD"} {
				unsetEnv(t, n)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var cfg testConfig
			err := Load(&cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if l := leaks(err.Error()); len(l) > 0 {
					t.Errorf("error shows %v: %v", l, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pc, err := pgconn.ParseConfig(cfg.EventDB.URL.Value())
			if err != nil {
				t.Fatalf("pgx cannot read the URL: %v", ScrubError(err, nastyPassword))
			}
			if pc.Password != tc.want || pc.Host != "db" {
				t.Errorf("pgx reads host %q and the password %v, want db and it", pc.Host, pc.Password == tc.want)
			}
			if l := leaks(fmt.Sprintf("%v %+v %s", cfg, cfg, cfg.EventDB.URL)); len(l) > 0 {
				t.Errorf("config prints %v", l)
			}
		})
	}
}

func TestValidationNeverQuotesACredential(t *testing.T) {
	clearEnv(t)
	t.Setenv("BCREG_NATS_URL", "nats://bcreg:"+nastyPassword+"@nats:4222,nats://Qz1Wx2Ev3@other:4222/x#y")
	t.Setenv("BCREG_SOURCE_DB_URL", "postgres://reader:12#"+nastyPassword+"@db:5432/bc")
	t.Setenv("BCREG_EVENT_DB_URL", "mysql://u:"+url.PathEscape(nastyPassword)+"@db/ev")
	var cfg testConfig
	err := Load(&cfg)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"BCREG_NATS_URL", "BCREG_SOURCE_DB_URL", "BCREG_EVENT_DB_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	if l := leaks(err.Error()); len(l) > 0 {
		t.Errorf("error shows %v:\n%v", l, err)
	}
}

func TestScrubErrorKeepsTheChain(t *testing.T) {
	raw := "nats://u:" + url.PathEscape(nastyPassword) + "%zz@h"
	_, perr := url.Parse(raw)
	err := ScrubError(fmt.Errorf("connect: %w", perr), URL(raw).Credentials()...)
	if l := leaks(err.Error()); len(l) > 0 {
		t.Errorf("scrubbed error shows %v: %v", l, err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Errorf("errors.As no longer finds the *url.Error in %v", err)
	}
}
