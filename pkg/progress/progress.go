// Package progress shows the advance of long work (bcregctl's initial-load,
// adopt, requeue failed and prune; bcreg-dev seed) on one writer, usually
// stderr: a bar redrawn in place with the rate and an ETA when the writer
// is a terminal, a plain line every few seconds otherwise (logs, pipes,
// CI), and a closing line with the total and the time taken either way.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Options tune a Bar; the zero value suits a command.
type Options struct {
	// Now is the clock (default time.Now); tests pass their own.
	Now func() time.Time
	// Every is how often a plain line is written (default 5s); a bar is
	// redrawn at most every tenth of a second.
	Every time.Duration
	// Terminal forces the bar (true) or plain lines (false); default: a
	// bar when the writer is a terminal.
	Terminal *bool
	// Done is what was finished before this run (a resumed load): it
	// counts toward the total, not toward the rate.
	Done int64
}

// Bar is one piece of work's progress. Its methods are safe for
// concurrent use.
type Bar struct {
	mu         sync.Mutex
	w          io.Writer
	what, unit string
	now        func() time.Time
	every      time.Duration
	tty        bool
	start      time.Time
	base       int64 // done before this run (Options.Done)
	done       int64
	total      int64
	last       time.Time // last line or redraw
	drawn      bool      // a bar is on the current line
	finished   bool
}

// New starts showing the progress of `what` (e.g. "prune event_seen"),
// counted in unit (e.g. "rows") out of total (0: unknown).
func New(w io.Writer, what, unit string, total int64, o Options) *Bar {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Every <= 0 {
		o.Every = 5 * time.Second
	}
	tty := isTerminal(w)
	if o.Terminal != nil {
		tty = *o.Terminal
	}
	b := &Bar{w: w, what: what, unit: unit, now: o.Now, every: o.Every, tty: tty, total: total, base: o.Done, done: o.Done}
	b.start = b.now()
	b.last = b.start
	return b
}

// SetTotal changes the amount of work (when it becomes known late).
func (b *Bar) SetTotal(total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total = total
}

// Set records that done units are finished.
func (b *Bar) Set(done int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = done
	b.show(false)
}

// Add records n more finished units.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.show(false)
}

// Note writes a message without garbling the bar.
func (b *Bar) Note(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.breakLine()
	fmt.Fprintln(b.w, msg)
}

// Finish writes the closing line; later calls do nothing.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	b.show(true)
	b.breakLine()
	elapsed := b.now().Sub(b.start)
	fmt.Fprintf(b.w, "%s: %d of %s %s done in %s (%s)\n", b.what, b.done, b.totalText(), b.unit, elapsed.Round(100*time.Millisecond), b.rateText(elapsed))
}

// show draws the bar or writes a line when due (or when final).
func (b *Bar) show(final bool) {
	now := b.now()
	elapsed := now.Sub(b.start)
	if b.tty {
		if !final && now.Sub(b.last) < 100*time.Millisecond && b.drawn {
			return
		}
		b.last = now
		const width = 30
		frac := b.fraction()
		n := int(frac * width)
		fmt.Fprintf(b.w, "\r%s [%s%s] %5.1f%% %d/%s %s, %s, ETA %s   ", b.what, strings.Repeat("#", n), strings.Repeat(".", width-n),
			frac*100, b.done, b.totalText(), b.unit, b.rateText(elapsed), b.eta(elapsed))
		b.drawn = true
		return
	}
	if final || now.Sub(b.last) < b.every {
		return
	}
	b.last = now
	fmt.Fprintf(b.w, "%s: %d of %s %s (%.0f%%, %s, ETA %s)\n", b.what, b.done, b.totalText(), b.unit, b.fraction()*100,
		b.rateText(elapsed), b.eta(elapsed))
}

func (b *Bar) breakLine() {
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}

func (b *Bar) fraction() float64 {
	if b.total <= 0 {
		return 0
	}
	return min(float64(b.done)/float64(b.total), 1)
}

func (b *Bar) totalText() string {
	if b.total <= 0 {
		return "?"
	}
	return fmt.Sprint(b.total)
}

// perSecond is this run's rate: what a resumed run had done before it
// started does not count.
func (b *Bar) perSecond(elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(b.done-b.base) / elapsed.Seconds()
}

func (b *Bar) rateText(elapsed time.Duration) string {
	return fmt.Sprintf("%.0f %s/s", b.perSecond(elapsed), b.unit)
}

// eta is the time left at this run's rate ("?" before there is one).
func (b *Bar) eta(elapsed time.Duration) string {
	r := b.perSecond(elapsed)
	if r <= 0 || b.total <= 0 {
		return "?"
	}
	left := time.Duration(float64(max(b.total-b.done, 0)) / r * float64(time.Second))
	return left.Round(time.Second).String()
}

// IsTerminal reports whether w is a character device (a terminal), where
// a line may be rewritten in place.
func IsTerminal(w io.Writer) bool { return isTerminal(w) }

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
