package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// run runs bcreg-dev with args and returns its exit status and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = dispatch(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSeed(t *testing.T) {
	t.Setenv("BCREG_SOURCE_DB_URL", testenv.NewDatabase(t))

	code, stdout, stderr := run(t, "seed", "--synthetic", "40", "--seed", "7")
	if code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"seeded 40 corporations (seed 7)", "corporation 40", "event ids: 1000000000 to"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("seed output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "seed: 40 of 40 corporations done") {
		t.Errorf("no final progress line on stderr:\n%s", stderr)
	}

	code, stdout, stderr = run(t, "seed", "--append-events", "5", "--stats")
	if code != 0 {
		t.Fatalf("append: exit %d\n%s", code, stderr)
	}
	if !regexp.MustCompile(`appended 5 events: event ids \d+ to \d+, timestamps `).MatchString(stdout) {
		t.Errorf("append output:\n%s", stdout)
	}
	if !strings.Contains(stdout, `"corporations": 40`) {
		t.Errorf("no shape statistics:\n%s", stdout)
	}

	// A second seed would reuse the numbers: refused.
	code, _, stderr = run(t, "seed", "--synthetic", "10")
	if code != 1 || !strings.Contains(stderr, "already holds synthetic corporations") {
		t.Errorf("second seed: exit %d, want 1 naming the synthetic corporations\n%s", code, stderr)
	}
}

func TestSeedUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nothing to do", []string{"seed"}, "--synthetic N"},
		{"negative", []string{"seed", "--synthetic", "-3"}, "want 1 to"},
		{"negative append", []string{"seed", "--append-events", "-1"}, "want a positive number"},
		{"argument", []string{"seed", "--synthetic", "3", "extra"}, "unexpected arguments extra"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want 2 with %q\n%s", code, tc.want, stderr)
			}
		})
	}
}
