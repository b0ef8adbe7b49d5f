package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clock is a controllable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestPlainLines(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var out bytes.Buffer
	no := false
	// 100 done by an earlier run: they count toward the total, not the rate.
	b := New(&out, "prune event_seen", "rows", 1000, Options{Now: c.now, Every: 5 * time.Second, Terminal: &no, Done: 100})
	c.advance(5 * time.Second)
	b.Set(300) // 5 s since the start: a line
	c.advance(time.Second)
	b.Set(400) // 1 s since the line: none
	c.advance(5 * time.Second)
	b.Add(100) // 500 done
	b.Note("a stall")
	b.Finish()
	b.Finish() // once
	want := []string{
		"prune event_seen: 300 of 1000 rows (30%, 40 rows/s, ETA 18s)",
		"prune event_seen: 500 of 1000 rows (50%, 36 rows/s, ETA 14s)",
		"a stall",
		"prune event_seen: 500 of 1000 rows done in 11s (36 rows/s)",
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(out.String()), "\n")); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestBarOnATerminal(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var out bytes.Buffer
	yes := true
	b := New(&out, "seed", "corporations", 0, Options{Now: c.now, Terminal: &yes})
	b.SetTotal(200)
	b.Set(0)
	c.advance(2 * time.Second)
	b.Set(50)
	c.advance(50 * time.Millisecond)
	b.Set(60) // redrawn at most every 100 ms
	c.advance(100 * time.Millisecond)
	b.Set(100)
	b.Note("note")
	b.Finish()
	got := out.String()
	for _, want := range []string{
		"\rseed [#######.......................]  25.0% 50/200 corporations, 25 corporations/s, ETA 6s",
		"\rseed [###############...............]  50.0% 100/200 corporations, 47 corporations/s, ETA 2s",
		"   \nnote\n",
		"seed: 100 of 200 corporations done in 2.2s (47 corporations/s)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in %q", want, got)
		}
	}
	if strings.Contains(got, "60/200") {
		t.Errorf("redrawn within 100 ms: %q", got)
	}
}
