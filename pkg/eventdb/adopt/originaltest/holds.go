package originaltest

import (
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
)

// The original's hold rule (eventdb.OriginalNotBefore) is applied twice:
// by migration 5 to rows stored before it, and by adoption. Their tests
// share these texts and the reading of the result.

// NotBefores returns each credential_log row's not_before (RFC 3339 UTC,
// "" for none) by hash.
func NotBefores(t testing.TB, q eventdb.Querier) map[string]string {
	t.Helper()
	rows, err := q.Query(t.Context(), `SELECT credential_hash,
    coalesce(to_char(not_before AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '') FROM credential_log`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var h, nb string
		if err := rows.Scan(&h, &nb); err != nil {
			t.Fatal(err)
		}
		out[h] = nb
	}
	return out
}

// HoldTexts are credential texts and the not_before the original's rule
// gives an outstanding row of each (a future expiry holds it).
func HoldTexts() (texts, want map[string]string) {
	future := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Second)
	f := future.Format("2006-01-02T15:04:05")
	texts = map[string]string{
		"expires-later":  `{"effective_date": "2001-01-01T00:00:00+00:00", "expiry_date": "` + f + `+00:00"}`,
		"naive-later":    `{"expiry_date": "` + f + `"}`,
		"expired":        `{"expiry_date": "2001-01-01T00:00:00+00:00"}`,
		"no-expiry":      `{"expiry_date": ""}`,
		"effective-only": `{"effective_date": "` + f + `+00:00"}`, // the original held only expiries
		"unreadable":     `{"expiry_date": "soon"}`,
	}
	want = map[string]string{"expires-later": f + "Z", "naive-later": f + "Z", "expired": "", "no-expiry": "",
		"effective-only": "", "unreadable": ""}
	return texts, want
}
