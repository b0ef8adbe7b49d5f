package poller

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

func TestAffectedCorps(t *testing.T) {
	ev := func(id int64, corp string) regevent.Event {
		return regevent.Event{Position: regevent.Position{EventID: id}, CorpNum: corp}
	}
	tests := []struct {
		name   string
		events []regevent.Event
		states []sourcedb.DiscoveredStateLink
		firms  []sourcedb.DiscoveredFirmLink
		want   []affected
	}{
		{name: "quiet"},
		{
			name:   "own events, several per corporation",
			events: []regevent.Event{ev(3, "B1"), ev(1, "A1"), ev(2, "A1")},
			want:   []affected{{"A1", []int64{1, 2}}, {"B1", []int64{3}}},
		},
		{
			name:   "state ended by another corporation's event",
			events: []regevent.Event{ev(5, "AMAL")},
			states: []sourcedb.DiscoveredStateLink{{EventID: 5, CorpNum: "GONE"}, {EventID: 5, CorpNum: "AMAL"}, {EventID: 9, CorpNum: "OLD"}},
			want:   []affected{{"AMAL", []int64{5}}, {"GONE", []int64{5}}},
		},
		{
			name:   "firm event brings in its owners; owner event brings in its firms",
			events: []regevent.Event{ev(7, "FM1"), ev(8, "OWNER2")},
			firms: []sourcedb.DiscoveredFirmLink{{Firm: "FM1", Owner: "OWNER1"}, {Firm: "FM1", Owner: "OWNER2"},
				{Firm: "FM2", Owner: "OWNER2"}},
			want: []affected{{"FM1", []int64{7, 8}}, {"FM2", []int64{8}}, {"OWNER1", []int64{7}}, {"OWNER2", []int64{7, 8}}},
		},
		{
			name:   "one level only: an owner's other firms are not brought in by a firm",
			events: []regevent.Event{ev(7, "FM1")},
			firms:  []sourcedb.DiscoveredFirmLink{{Firm: "FM1", Owner: "OWNER1"}, {Firm: "FM9", Owner: "OWNER1"}},
			want:   []affected{{"FM1", []int64{7}}, {"OWNER1", []int64{7}}},
		},
		{
			name:   "state-linked corporation's firms",
			events: []regevent.Event{ev(5, "AMAL")},
			states: []sourcedb.DiscoveredStateLink{{EventID: 5, CorpNum: "GONE"}},
			firms:  []sourcedb.DiscoveredFirmLink{{Firm: "FMG", Owner: "GONE"}},
			want:   []affected{{"AMAL", []int64{5}}, {"FMG", []int64{5}}, {"GONE", []int64{5}}},
		},
		{
			name:   "blank corporation numbers dropped",
			events: []regevent.Event{ev(1, ""), ev(2, "  "), ev(3, "C1")},
			firms:  []sourcedb.DiscoveredFirmLink{{Firm: "C1", Owner: " "}},
			want:   []affected{{"C1", []int64{3}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := affectedCorps(tc.events, tc.states, tc.firms)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(affected{})); diff != "" && !(len(tc.want) == 0 && len(got) == 0) {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMsgIDs(t *testing.T) {
	a := PollMsgID("BC_REG", "0191294", []int64{3, 1, 2, 3})
	tests := []struct {
		name, got, want string
	}{
		{"poll id ignores order and repeats", PollMsgID("BC_REG", "0191294", []int64{1, 2, 3}), a},
		{"poll id shape", a[:len("BC_REG:0191294:")], "BC_REG:0191294:"},
		{"initial load", messages.InitialLoadMsgID("BC_REG", "0191294", 4), "init:BC_REG:0191294:4"},
		{"future-dated", FutureMsgID("BC_REG", "0191294", 99, time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)), "future:BC_REG:0191294:99:2027-01-02T03:04:05"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Error(diff)
			}
		})
	}
	if PollMsgID("BC_REG", "0191294", []int64{1, 2}) == a {
		t.Error("different events gave the same id")
	}
	if len(a) != len("BC_REG:0191294:")+64 {
		t.Errorf("id %q: want a hex SHA-256 suffix", a)
	}
}

// TestConfigFromEnvironment checks the defaults and that every bad value
// is reported at once.
func TestConfigFromEnvironment(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		var cfg Config
		if err := config.Load(&cfg); err != nil {
			t.Fatal(err)
		}
		want := Poll{Interval: 30 * time.Second, LookBack: 10 * time.Minute, InitialLoad: "auto", LoadPage: 1000,
			LockRetry: 2 * time.Second, WarnCorps: 10000, ErrorCorps: 100000, PublishTimeout: 30 * time.Second, PruneInterval: time.Hour, Profile: "history"}
		if diff := cmp.Diff(want, cfg.Poll); diff != "" {
			t.Errorf("defaults (-want +got):\n%s", diff)
		}
		if dup := config.Duplicates(&cfg); len(dup) > 0 {
			t.Errorf("variables read twice: %v", dup)
		}
	})
	t.Run("every problem reported", func(t *testing.T) {
		t.Setenv("BCREG_POLL_INTERVAL", "1ms")
		t.Setenv("BCREG_INITIAL_LOAD", "maybe")
		t.Setenv("BCREG_POLL_WARN_CORPS", "500")
		t.Setenv("BCREG_POLL_ERROR_CORPS", "100")
		var cfg Config
		err := config.Load(&cfg)
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{"BCREG_POLL_INTERVAL", "BCREG_INITIAL_LOAD", "BCREG_POLL_ERROR_CORPS"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not name %s:\n%v", want, err)
			}
		}
	})
}
