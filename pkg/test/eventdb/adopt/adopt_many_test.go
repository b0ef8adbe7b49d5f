package adopt_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt/originaltest"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestAdoptStreamsEveryRow: every credential of an original larger than
// one COPY buffer (64 kB) is imported, in both layouts.
func TestAdoptStreamsEveryRow(t *testing.T) {
	for _, layout := range []string{originaltest.Layout8bc273a, originaltest.LayoutPreLEAR} {
		t.Run(layout, func(t *testing.T) {
			ctx := testenv.Context(t)
			orig := originaltest.Create(t, testenv.NewDatabase(t), layout)
			wmDate := time.Date(2019, 3, 2, 9, 30, 0, 0, time.UTC)
			orig.Watermark(1000, wmDate)
			done := time.Now()
			const n = 1500
			for i := range n {
				orig.AddCredential(originaltest.Credential{CorpNum: fmt.Sprintf("C%04d", i/3), CorpState: "ACT",
					Prev: originaltest.Event{Date: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)}, Last: originaltest.Event{ID: 1000, Date: wmDate},
					Type: "REG", ID: "x", Schema: "s", Version: "1", JSON: fmt.Sprintf(`{"i": %d, "text": "%0200d"}`, i, i), Hash: fmt.Sprintf("h%04d", i),
					Reason: "Filing:X", ProcessDate: &done, ProcessSuccess: "Y"})
			}
			from := testenv.Pool(t, orig.URL)
			o, err := adopt.Inspect(ctx, from, "BC_REG")
			if err != nil {
				t.Fatal(err)
			}
			pool, _ := testenv.NewPool(t)
			if _, err := eventdb.Migrate(ctx, pool); err != nil {
				t.Fatal(err)
			}
			res, err := adopt.Run(ctx, pool, from, o, adopt.Plan{System: "BC_REG", Watermark: regevent.At(1000, wmDate)})
			if err != nil {
				t.Fatal(err)
			}
			var stored int64
			_ = pool.QueryRow(ctx, `SELECT count(*) FROM credential_log`).Scan(&stored)
			if o.Credentials != n || res.Credentials != n || res.Imported != n || stored != n {
				t.Errorf("original %d, read %d, imported %d, stored %d; want %d each", o.Credentials, res.Credentials, res.Imported, stored, n)
			}
		})
	}
}
