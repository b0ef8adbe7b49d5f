package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
