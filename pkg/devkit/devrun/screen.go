package devrun

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// screen is the launcher's output: whole lines (its own and the children's
// prefixed logs) and the live status. On a terminal the status is the last
// line, rewritten in place (carriage return) and kept below the logs;
// elsewhere (a pipe, a file, CI) a status line is printed only when one of
// its figures changed, so an idle run does not repeat the same line.
type screen struct {
	mu       sync.Mutex
	out      io.Writer
	terminal bool
	width    func() int // the terminal's columns (0: unknown)
	shown    string     // the status on the terminal's last line
	last     string     // the last status printed (not a terminal)
}

func newScreen(out io.Writer, terminal bool) *screen {
	s := &screen{out: out, terminal: terminal, width: func() int { return 0 }}
	if f, ok := out.(*os.File); ok && terminal {
		s.width = func() int {
			ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
			if err != nil {
				return 0
			}
			return int(ws.Col)
		}
	}
	return s
}

// clearLine is a carriage return and ANSI "erase to the end of the line".
const clearLine = "\r\x1b[K"

// Println writes one whole line; on a terminal the status moves below it.
func (s *screen) Println(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shown != "" {
		fmt.Fprint(s.out, clearLine)
	}
	fmt.Fprintln(s.out, line)
	if s.shown != "" {
		fmt.Fprint(s.out, s.shown)
	}
}

// Printf writes one whole line.
func (s *screen) Printf(format string, args ...any) { s.Println(fmt.Sprintf(format, args...)) }

// Status shows the live status line.
func (s *screen) Status(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.terminal {
		if line != s.last {
			s.last = line
			fmt.Fprintln(s.out, line)
		}
		return
	}
	// A line longer than the terminal would wrap, and a carriage return
	// goes back to the start of the last row only: cut it to fit.
	if w := s.width(); w > 1 && len(line) >= w {
		line = line[:w-2] + "…"
	}
	s.shown = line
	fmt.Fprint(s.out, clearLine+line)
}

// Close ends the status line, so what follows starts on a line of its own.
func (s *screen) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shown != "" {
		fmt.Fprintln(s.out)
		s.shown = ""
	}
}
