package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// run runs bcregctl with args and returns its exit status and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestMigrateNamesUnreachableServer(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"database", map[string]string{"BCREG_EVENT_DB_URL": "postgres://bc:secretpw@127.0.0.1:1/ep?connect_timeout=2"}, []string{"migrate", "--db-only"},
			[]string{"127.0.0.1:1", "BCREG_EVENT_DB_URL"}},
		{"nats", map[string]string{"BCREG_NATS_URL": "nats://127.0.0.1:1"}, []string{"migrate", "--nats-only"},
			[]string{"nats://127.0.0.1:1", "BCREG_NATS_URL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, _, stderr := run(t, tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not name %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "secretpw") {
				t.Errorf("stderr shows the password:\n%s", stderr)
			}
		})
	}
}

func TestGenerateUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"generate", "A1"}, {"generate", "--profile", "snapshot"}, {"generate", "--profile", "nope", "A1"}} {
		t.Setenv("BCREG_SOURCE_DB_URL", "postgres://127.0.0.1:1/x")
		if code, _, stderr := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr)
		}
	}
}
