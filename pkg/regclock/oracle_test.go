package regclock_test

import (
	"compress/gzip"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/regclock"
)

// oracleFile holds 121,096 local times converted by pytz 2022.7.1 exactly as
// the original pipeline did (see testdata/README.md).
const oracleFile = "testdata/pacific_to_utc.csv.gz"

// TestOracle checks every row of the pytz oracle for both zones.
func TestOracle(t *testing.T) {
	f, err := os.Open(oracleFile)
	if err != nil {
		t.Fatalf("open oracle: %v", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(gz)
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"local", "snapshot_america_los_angeles", "history_pst8pdt"}
	if diff := cmp.Diff(want, head); diff != "" {
		t.Fatalf("oracle header mismatch (-want +got):\n%s", diff)
	}
	rows, bad := 0, 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows++
		local, err := parseLocal(rec[0])
		if err != nil {
			t.Fatalf("row %d: %v", rows, err)
		}
		for i, zone := range []regclock.Zone{regclock.Snapshot, regclock.History} {
			if got := regclock.ToUTC(zone, local); got != rec[i+1] {
				bad++
				if bad <= 20 {
					t.Errorf("ToUTC(%v, %s) = %q, want %q", zone, rec[0], got, rec[i+1])
				}
			}
		}
	}
	const wantRows = 121096
	if rows != wantRows {
		t.Errorf("checked %d rows, want %d", rows, wantRows)
	}
	if bad > 0 {
		t.Errorf("%d mismatches", bad)
	}
	t.Logf("checked %d rows × 2 zones, %d mismatches", rows, bad)
}

// parseLocal parses the registry's naive timestamp format,
// YYYY-MM-DD HH:MM:SS[.ffffff], years 1 to 9999.
func parseLocal(s string) (time.Time, error) {
	return time.Parse("2006-01-02 15:04:05.999999", s)
}
