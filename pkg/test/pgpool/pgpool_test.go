package pgpool_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/pgpool"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// TestOpenErrorsNameSettingNotPassword: a bad or unreachable URL is reported
// with the setting it came from and never with its password.
func TestOpenErrorsNameSettingNotPassword(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		want      []string
	}{
		{name: "unencoded # in the password", url: "postgres://u:hun#ter2@127.0.0.1:1/db",
			want: []string{"BCREG_X_DB_URL"}},
		{name: "unreachable server", url: "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=2",
			want: []string{"BCREG_X_DB_URL", "127.0.0.1:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			pool, err := pgpool.Open(ctx, tc.url, "BCREG_X_DB_URL", 0)
			if err == nil {
				pool.Close()
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			for _, secret := range []string{"hunter2", "ter2"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows the password", err)
				}
			}
		})
	}
}

// TestOpenPoolSize: maxConns bounds the pool; 0 leaves pgx's default.
func TestOpenPoolSize(t *testing.T) {
	url := testenv.NewDatabase(t)
	ctx := testenv.Context(t)
	for _, tc := range []struct {
		name     string
		maxConns int
		want     func(int32) bool
	}{
		{name: "sized", maxConns: 3, want: func(n int32) bool { return n == 3 }},
		{name: "default", maxConns: 0, want: func(n int32) bool { return n >= 4 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool, err := pgpool.Open(ctx, url, "BCREG_X_DB_URL", tc.maxConns)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			if got := pool.Config().MaxConns; !tc.want(got) {
				t.Errorf("MaxConns = %d", got)
			}
		})
	}
}
