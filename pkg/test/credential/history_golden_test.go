package credential_test

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/source"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// historyNow is "now" for the golden runs: after every date of the fixture,
// so nothing is future-dated.
var historyNow = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

// historyGolden is what the history oracle records of a credential.
type historyGolden struct {
	Type, ID, Schema, Version, CorpState, Reason string
	Held                                         bool
	JSON, Hash                                   string
}

var historyRank = map[string]int{credential.TypeRegistration: 0, credential.TypeAddress: 1,
	credential.TypeRelationship: 2, credential.TypeBusinessNumber: 3}

// normaliseHistory orders credentials by type rank; REG (and BNC) keep their
// order, ADDR and REL (whose order the original took from storage order)
// are sorted by text.
func normaliseHistory(list []historyGolden) []historyGolden {
	out := slices.Clone(list)
	slices.SortStableFunc(out, func(a, b historyGolden) int {
		if c := cmp.Compare(historyRank[a.Type], historyRank[b.Type]); c != 0 || a.Type == credential.TypeRegistration {
			return c
		}
		return cmp.Compare(a.JSON, b.JSON)
	})
	return out
}

func historyTypes(list []historyGolden) []string {
	var out []string
	for _, c := range list {
		out = append(out, c.Type)
	}
	return out
}

func toHistoryGolden(res *credential.Result) []historyGolden {
	var out []historyGolden
	for _, c := range res.Credentials {
		out = append(out, historyGolden{c.Type, c.ID, c.Schema, c.Version, res.CorpState, c.Reason, c.Held, c.JSON, c.Hash})
	}
	return out
}

// newestEvent is the last event of a database: the work item's Last of an
// initial load.
func newestEvent(t *testing.T, pool *pgxpool.Pool) regevent.Position {
	t.Helper()
	var m regevent.Position
	err := pool.QueryRow(context.Background(),
		`SELECT coalesce(max(event_id), 0)::bigint, coalesce(max(event_timestmp), '0001-01-01') FROM bc_registries.event`).Scan(&m.EventID, &m.Date.Time)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGoldenHistoryProfile loads every fixture group alone into its own
// database and checks, for every corporation, that
//   - the history profile run over the full range (an initial load)
//     reproduces what the original produced: credential text, hash, id,
//     corp_state, reason and order;
//   - processing it window by window over its events, as a running pipeline
//     would have (prev = one event, last = the next), and collecting the
//     distinct credentials gives exactly the full-range set (the original's
//     "history" scenario, for every corporation).
func TestGoldenHistoryProfile(t *testing.T) {
	expected := sourcetest.LoadExpected(t, "dev_expected_history.json")
	tmpl := sourcetest.Template(t)
	profile, err := credential.New(credential.ProfileHistory, credential.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var corps, creds, matched, windows, spread atomic.Int64

	t.Run("groups", func(t *testing.T) {
		for _, group := range expected.Groups() {
			t.Run(group, func(t *testing.T) {
				t.Parallel()
				pool := testenv.Pool(t, sourcetest.GroupDatabase(t, tmpl, group))
				nums := expected.CorpNums(group)
				batch, err := sourcedb.NewLoader(pool, nil).Load(testenv.Context(t), nums)
				if err != nil {
					t.Fatal(err)
				}
				params := credential.FullRange(newestEvent(t, pool), historyNow)
				for _, num := range nums {
					snap, err := batch.Get(num)
					if err != nil {
						t.Fatalf("%s: %v", num, err)
					}
					res, err := profile.Generate(snap, params)
					if err != nil {
						t.Fatalf("%s: %v", num, err)
					}
					corps.Add(1)
					creds.Add(int64(len(res.Credentials)))
					want := expected[group][num]
					if want.Error != "" {
						checkHistoryOriginalFailure(t, num, res)
						continue
					}
					got := toHistoryGolden(res)
					var exp []historyGolden
					for _, c := range want.Credentials {
						held := c.InitialProcessSuccess != nil && *c.InitialProcessSuccess == "A"
						exp = append(exp, historyGolden{c.CredType, c.CredentialID, c.SchemaName, c.SchemaVersion, c.CorpState,
							c.CredentialReason, held, c.CredentialJSON, c.CredentialHash})
					}
					if diff := gocmp.Diff(historyTypes(exp), historyTypes(got)); diff != "" {
						t.Errorf("%s: credential types in issue order (-want +got):\n%s", num, diff)
					}
					if diff := gocmp.Diff(normaliseHistory(exp), normaliseHistory(got)); diff != "" {
						t.Errorf("%s: credentials (-want +got):\n%s", num, diff)
					} else {
						matched.Add(int64(len(exp)))
					}
					if len(res.Warnings)+len(res.Requeue) > 0 || res.Note != "" {
						t.Errorf("%s: unexpected warnings %q, requeue %v, note %q", num, res.Warnings, res.Requeue, res.Note)
					}
				}
				for _, num := range nums {
					n, first := checkIncremental(t, profile, must(batch.Get(num)), params)
					windows.Add(int64(n))
					if !first {
						spread.Add(1)
					}
				}
			})
		}
	})
	t.Logf("%d groups, %d corporations, %d credentials generated, %d matched the oracle", len(expected), corps.Load(), creds.Load(), matched.Load())
	t.Logf("incremental: %d windows; %d corporations needed more than the first window", windows.Load(), spread.Load())
	if spread.Load() == 0 {
		t.Error("incremental: every corporation was complete after its first window; the windows test nothing")
	}
}

// checkHistoryOriginalFailure covers C3793011, whose HAM state starts with
// (and whose ACT state ends with) event 13366802, absent from the sample:
// the original failed; the profile dates that event by the recognition date,
// as the snapshot profile does, and warns.
func checkHistoryOriginalFailure(t *testing.T, num string, res *credential.Result) {
	t.Helper()
	if num != "C3793011" {
		t.Fatalf("%s: the oracle records a failure; only C3793011 is known to fail", num)
	}
	got := toHistoryGolden(res)
	if diff := gocmp.Diff([]string{"REG", "ADDR", "BNC"}, historyTypes(got)); diff != "" {
		t.Errorf("%s: credential types (-want +got):\n%s", num, diff)
	}
	if len(got) == 0 {
		return
	}
	reg := res.Credentials[0].Attributes
	want := map[string]any{
		"entity_status":           "HIS",
		"entity_status_effective": "2016-12-30T17:40:29+00:00", // recognition_dts 2016-12-30 09:40:29 PST
		"effective_date":          "2016-12-30T17:40:29+00:00",
		"registration_date":       "2016-12-30T17:40:29+00:00",
		"registration_id":         "C3793011",
		"entity_type":             "CUL",
		"home_jurisdiction":       "BC",
	}
	for k, v := range want {
		if reg[k] != v {
			t.Errorf("%s: REG %s = %v, want %v", num, k, reg[k], v)
		}
	}
	if res.CorpState != "HIS" {
		t.Errorf("%s: corp_state %q, want HIS", num, res.CorpState)
	}
	if len(res.Warnings) == 0 || !strings.Contains(strings.Join(res.Warnings, "\n"), "event row 13366802") {
		t.Errorf("%s: warnings %q, want them to name the missing event 13366802", num, res.Warnings)
	}
}

// eventMarks returns the events of a snapshot's records (start and end
// events of states, names, jurisdictions, offices and parties) in timestamp
// order, one per timestamp: the steps an ongoing pipeline would have taken.
func eventMarks(s *source.Snapshot) []regevent.Position {
	h := s.History()
	var marks []regevent.Position
	add := func(sp *source.Span) {
		for _, e := range []*source.DatedEvent{&sp.Start, sp.End} {
			if e != nil && e.Timestamp() != nil {
				marks = append(marks, regevent.At(e.ID, *e.Timestamp()))
			}
		}
	}
	for i := range h.States {
		add(&h.States[i].Span)
	}
	for i := range h.Names {
		add(&h.Names[i].Span)
	}
	for i := range h.AssumedNames {
		add(&h.AssumedNames[i].Span)
	}
	for i := range h.Jurisdictions {
		add(&h.Jurisdictions[i].Span)
	}
	for i := range h.Offices {
		add(&h.Offices[i].Span)
	}
	for i := range h.Parties {
		add(&h.Parties[i].Span)
	}
	slices.SortFunc(marks, regevent.Position.Compare)
	return slices.CompactFunc(marks, func(a, b regevent.Position) bool { return a.Date.Equal(b.Date.Time) })
}

// checkIncremental runs the profile over snap window by window and checks
// that the distinct credentials equal those of the full-range run. It
// returns the number of windows and whether the first window alone had
// them all.
func checkIncremental(t *testing.T, profile credential.Profile, snap *source.Snapshot, full credential.Params) (int, bool) {
	t.Helper()
	num := snap.CorpNum()
	fullRes, err := profile.Generate(snap, full)
	if err != nil {
		t.Fatalf("%s: %v", num, err)
	}
	marks := append([]regevent.Position{full.Prev}, eventMarks(snap)...)
	marks = append(marks, full.Last)
	seen := map[string]bool{}
	var collected []string
	firstAlone := false
	for i := 0; i+1 < len(marks); i++ {
		res, err := profile.Generate(snap, credential.Params{Now: full.Now, Prev: marks[i], Last: marks[i+1]})
		if err != nil {
			t.Fatalf("%s: window %d: %v", num, i, err)
		}
		for _, c := range res.Credentials {
			if !seen[c.Hash] {
				seen[c.Hash] = true
				collected = append(collected, c.Type+" "+c.JSON)
			}
		}
		if i == 0 {
			firstAlone = len(collected) == len(fullRes.Credentials)
		}
	}
	var want []string
	for _, c := range fullRes.Credentials {
		want = append(want, c.Type+" "+c.JSON)
	}
	slices.Sort(want)
	slices.Sort(collected)
	if diff := gocmp.Diff(want, collected); diff != "" {
		t.Errorf("%s: window by window (-full +incremental):\n%s", num, diff)
	}
	return len(marks) - 1, firstAlone
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
