package testenv_test

import (
	"os"
	"testing"

	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestDatabaseIsFreshAndUsable(t *testing.T) {
	pool, _ := testenv.NewPool(t)
	ctx := testenv.Context(t)
	if _, err := pool.Exec(ctx, "CREATE TABLE x (id int)"); err != nil {
		t.Fatal(err)
	}
	other, _ := testenv.NewPool(t)
	var n int
	if err := other.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'x'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("second database sees the first one's table")
	}
}

func TestNATSJetStream(t *testing.T) {
	n := testenv.NewNATS(t)
	_, js := n.Connect(t)
	if _, err := js.AccountInfo(testenv.Context(t)); err != nil {
		t.Fatalf("jetstream not enabled: %v", err)
	}
}
