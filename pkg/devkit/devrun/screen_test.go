package devrun

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestStatusLine: elsewhere than on a terminal a status line is printed
// only when a figure changed (an idle run used to repeat it every 2 s); on
// a terminal it is rewritten in place, cut to the terminal's width, and
// log lines appear above it.
func TestStatusLine(t *testing.T) {
	type step struct {
		status string // a status line, or
		log    string // a log line
	}
	tests := []struct {
		name     string
		terminal bool
		width    int
		steps    []step
		want     string
	}{
		{"pipe: repeats are dropped", false, 0, []step{
			{status: "status | a: 1"}, {status: "status | a: 1"}, {status: "status | a: 2"},
			{log: "poster | sent"}, {status: "status | a: 2"}, {status: "status | a: 1"},
		}, "status | a: 1\nstatus | a: 2\nposter | sent\nstatus | a: 1\n"},
		{"terminal: in place, logs above", true, 0, []step{
			{log: "dev: started"}, {status: "status | a: 1"}, {status: "status | a: 1"},
			{log: "poster | sent"}, {status: "status | a: 2"},
		}, "dev: started\n" + clearLine + "status | a: 1" + clearLine + "status | a: 1" +
			clearLine + "poster | sent\nstatus | a: 1" + clearLine + "status | a: 2\n"},
		{"terminal: cut to the width", true, 10, []step{{status: "status | a: 1, b: 2"}},
			clearLine + "status |…\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			s := newScreen(&out, tt.terminal)
			s.width = func() int { return tt.width }
			for _, st := range tt.steps {
				if st.log != "" {
					s.Println(st.log)
				} else {
					s.Status(st.status)
				}
			}
			s.Close()
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}
