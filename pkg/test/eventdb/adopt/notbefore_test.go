package adopt_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt/originaltest"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestAdoptedRowsWaitForTheirExpiry: an outstanding credential the
// original held back (future expiry) is adopted with its not_before, so
// the sweep and the poster, which read only not_before, hold it too.
func TestAdoptedRowsWaitForTheirExpiry(t *testing.T) {
	ctx := testenv.Context(t)
	orig := originaltest.Create(t, testenv.NewDatabase(t), originaltest.LayoutPreLEAR)
	orig.Watermark(1000, time.Date(2019, 3, 2, 9, 30, 0, 0, time.UTC))
	ev := originaltest.Event{ID: 1000, Date: time.Date(2019, 3, 2, 9, 30, 0, 0, time.UTC)}
	texts, want := originaltest.HoldTexts()
	processed := time.Date(2019, 3, 2, 10, 0, 0, 0, time.UTC)
	for hash, text := range texts {
		orig.AddCredential(originaltest.Credential{CorpNum: "A1", CorpState: "ACT", Prev: ev, Last: ev, Type: "REG",
			ID: hash, Schema: "registration.registries.ca", Version: "1.0.42", JSON: text, Hash: hash})
	}
	// Posted already: a final row is never held.
	orig.AddCredential(originaltest.Credential{CorpNum: "A1", CorpState: "ACT", Prev: ev, Last: ev, Type: "REG",
		ID: "posted", Schema: "registration.registries.ca", Version: "1.0.42", JSON: texts["expires-later"] + " ",
		Hash: "posted", ProcessDate: &processed, ProcessSuccess: "Y", ProcessMsg: "ok"})
	want["posted"] = ""

	from := testenv.Pool(t, orig.URL)
	o, err := adopt.Inspect(ctx, from, "BC_REG")
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := testenv.NewPool(t)
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := adopt.Run(ctx, pool, from, o, adopt.Plan{System: "BC_REG", Watermark: regevent.At(1000, ev.Date)}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, originaltest.NotBefores(t, pool)); diff != "" {
		t.Errorf("not_before by hash (-want +got):\n%s", diff)
	}
}
