package outbox

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
)

func rowsOf(corp string, n, textBytes int) []outboxdb.Row {
	var out []outboxdb.Row
	for i := range n {
		out = append(out, outboxdb.Row{RecordID: int64(i + 1), CorpNum: corp, Type: "REG", Schema: "s", Version: "1",
			JSON: fmt.Sprintf(`{"entity_name": %q}`, strings.Repeat("x", textBytes)), Hash: fmt.Sprintf("%s-%05d", corp, i)})
	}
	return out
}

// TestBundlesSplitBySize: parts below MaxBytes, every credential once, in
// issue order, one corporation per bundle; a credential too large alone
// stops its corporation there (the parts before it go), the others go on.
func TestBundlesSplitBySize(t *testing.T) {
	tests := []struct {
		name      string
		rows      []outboxdb.Row
		maxBytes  int
		wantParts map[string]int
		wantBad   []string
	}{
		{"no limit: one bundle per corporation", append(rowsOf("A", 300, 100), rowsOf("B", 2, 10)...), 0, map[string]int{"A": 1, "B": 1}, nil},
		{"fits", rowsOf("A", 3, 10), 4096, map[string]int{"A": 1}, nil},
		{"split", append(rowsOf("A", 3000, 100), rowsOf("B", 2, 10)...), 32 << 10, map[string]int{"A": 23, "B": 1}, nil},
		{"too large alone", append(append(rowsOf("A", 5, 10), rowsOf("A", 1, 8000)...), rowsOf("B", 2, 10)...), 4096,
			map[string]int{"A": 1, "B": 1}, []string{"A"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Rows come by corporation then record id; the big one is A's 6th.
			for i := range tc.rows {
				tc.rows[i].RecordID = int64(i + 1)
				if tc.rows[i].CorpNum == "A" {
					tc.rows[i].Hash = fmt.Sprintf("A-%05d", i)
				}
			}
			bundles, bad := Bundles(messages.SystemBCReg, tc.rows, Options{MaxBytes: tc.maxBytes})
			parts := map[string]int{}
			got := map[string][]string{}
			for _, b := range bundles {
				parts[b.CorpNum]++
				if tc.maxBytes > 0 && len(b.Msg.Data) > tc.maxBytes {
					t.Errorf("bundle of %s is %d bytes, above %d", b.CorpNum, len(b.Msg.Data), tc.maxBytes)
				}
				dec, err := messages.DecodeBundle(b.Msg.Data)
				if err != nil {
					t.Fatal(err)
				}
				for i, c := range dec.Credentials {
					if c.Hash != b.Hashes[i] {
						t.Errorf("hash %d of a bundle: %s, want %s", i, c.Hash, b.Hashes[i])
					}
				}
				got[b.CorpNum] = append(got[b.CorpNum], b.Hashes...)
			}
			if diff := cmp.Diff(tc.wantParts, parts); diff != "" {
				t.Errorf("parts (-want +got):\n%s", diff)
			}
			want := map[string][]string{}
			for _, r := range tc.rows {
				if len(tc.wantBad) > 0 && r.CorpNum == "A" && len(want["A"]) == 5 {
					continue // from the too-large one on, A waits
				}
				want[r.CorpNum] = append(want[r.CorpNum], r.Hash)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("credentials per corporation (-want +got):\n%s", diff)
			}
			var badCorps []string
			for c, err := range bad {
				badCorps = append(badCorps, c)
				if !errors.Is(err, ErrTooLarge) {
					t.Errorf("%s: %v, want ErrTooLarge", c, err)
				}
			}
			if diff := cmp.Diff(tc.wantBad, badCorps); diff != "" {
				t.Errorf("bad (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRepublishGetsAFreshID: credentials that came back to the outbox get
// a message id their earlier bundle did not have; never-acknowledged ones
// keep theirs (a republish after a crash is dropped as a duplicate).
func TestRepublishGetsAFreshID(t *testing.T) {
	rows := rowsOf("A", 2, 10)
	first, _ := Bundles(messages.SystemBCReg, rows, Options{})
	again, _ := Bundles(messages.SystemBCReg, rows, Options{})
	rows[0].PrevSeq = 41
	back, _ := Bundles(messages.SystemBCReg, rows, Options{})
	if first[0].Msg.MsgID != again[0].Msg.MsgID {
		t.Errorf("unpublished credentials: ids %s and %s differ", first[0].Msg.MsgID, again[0].Msg.MsgID)
	}
	if back[0].Msg.MsgID == first[0].Msg.MsgID {
		t.Errorf("credentials back from bundle 41 reuse id %s", back[0].Msg.MsgID)
	}
}

// BenchmarkBundles is the builder's common case: many corporations with a
// few credentials each, every one fitting a bundle (MaxBytes as on a
// server's default 1 MB max payload).
func BenchmarkBundles(b *testing.B) {
	var rows []outboxdb.Row
	for i := range 200 {
		rows = append(rows, rowsOf(fmt.Sprintf("BC%07d", i), 5, 200)...)
	}
	b.ReportAllocs()
	for b.Loop() {
		if bundles, bad := Bundles(messages.SystemBCReg, rows, Options{MaxBytes: 1 << 20}); len(bundles) != 200 || len(bad) != 0 {
			b.Fatalf("%d bundles, bad %v", len(bundles), bad)
		}
	}
}
