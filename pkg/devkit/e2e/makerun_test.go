package e2e

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/testkit/localpg"
)

// TestMakeRunLauncher drives `bcreg-dev run` (what `make run` runs) as a
// script would: with BCREG_RUN_EXIT_WHEN_IDLE=1 it exits 0 after every
// expected credential reached vonx-sim; a second run issues nothing new;
// an interrupted run (SIGINT) exits within 10 seconds and leaves no process
// behind, PostgreSQL included.
func TestMakeRunLauncher(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack three times")
	}
	bin := binDirFor(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	t.Cleanup(func() { os.RemoveAll(localpg.DataDirFor(filepath.Join(dataDir, "pg"))) })
	args := []string{"run", "--data-dir", dataDir, "--bin", bin, "--status-every", "1s"}
	env := map[string]string{"BCREG_RUN_EXIT_WHEN_IDLE": "1", "BCREG_PROFILE": "snapshot"}

	received := func(out string) int {
		m := regexp.MustCompile(`agent received: (\d+)`).FindAllStringSubmatch(out, -1)
		if len(m) == 0 {
			return -1
		}
		n, _ := strconv.Atoi(m[len(m)-1][1])
		return n
	}
	run := func(name string) string {
		t.Helper()
		p := start(t, "bcreg-dev", env, args...)
		p.name = name
		select {
		case <-p.done:
		case <-time.After(5 * time.Minute):
			t.Fatalf("%s did not finish within 5 minutes\n%s", name, tail(p.out.String()))
		}
		if p.err != nil {
			t.Fatalf("%s: %v\n%s", name, p.err, tail(p.out.String()))
		}
		if !strings.Contains(p.out.String(), "backlog empty") {
			t.Fatalf("%s: no 'backlog empty' line\n%s", name, tail(p.out.String()))
		}
		return p.out.String()
	}

	first := run("first run")
	n := received(first)
	if n <= 0 {
		t.Fatalf("first run: the agent received %d credentials\n%s", n, tail(first))
	}
	t.Logf("first run: vonx-sim received %d credentials", n)

	second := run("second run")
	if got := received(second); got != 0 {
		t.Errorf("second run issued %d credentials, want 0 (resume, nothing twice)", got)
	}

	// Interrupted run: SIGINT to the launcher only.
	delete(env, "BCREG_RUN_EXIT_WHEN_IDLE")
	p := start(t, "bcreg-dev", env, args...)
	waitUntil(t, "live status", 2*time.Minute, func() bool { return strings.Contains(p.out.String(), "status |") })
	// The console the launcher started answers with the overview.
	if m := regexp.MustCompile(`dev: console at (http://\S+/) `).FindStringSubmatch(p.out.String()); m == nil {
		t.Errorf("no console line\n%s", tail(p.out.String()))
	} else {
		waitUntil(t, "the console's overview at "+m[1], time.Minute, func() bool {
			resp, err := http.Get(m[1])
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode == http.StatusOK && strings.Contains(string(body), "Pipeline overview")
		})
	}
	sent := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
		if took := time.Since(sent); took > 10*time.Second {
			t.Errorf("interrupted run took %v to exit, want ≤ 10s", took)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("interrupted run still running 15s after SIGINT\n%s", tail(p.out.String()))
	}
	// Nothing left behind: none of the children the launcher reported (not
	// any process from bin: a bench may be running beside the tests), no
	// PostgreSQL on the data directory.
	children := regexp.MustCompile(`dev: started (\S+) \(pid (\d+)\)`).FindAllStringSubmatch(p.out.String(), -1)
	if len(children) < 7 {
		t.Errorf("the launcher reported %d children, want the agent, 5 services and the console", len(children))
	}
	for _, c := range children {
		pid, _ := strconv.Atoi(c[2])
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("process left behind: %s (pid %d)", c[1], pid)
		}
	}
	out, _ := exec.Command("ps", "-eo", "args").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, localpg.DataDirFor(filepath.Join(dataDir, "pg"))) {
			t.Errorf("process left behind: %s", line)
		}
	}
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	return strings.Join(lines, "\n")
}
