package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/testkit/localpg"
)

// TestMakeRunLauncher drives `bcreg-dev run` (what `make run` runs) as a
// script would: with BCREG_RUN_EXIT_WHEN_IDLE=1 it exits 0 after every
// expected credential reached vonx-sim, printing a status line only when a
// figure changed; a second run issues nothing new; the inspection commands
// it prints work (`nats consumer report BCREG_CREDS` with the nats CLI,
// /jsz on the monitoring port); an interrupted run (SIGINT) exits within
// 10 seconds and leaves no process behind, PostgreSQL included.
func TestMakeRunLauncher(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack three times")
	}
	bin := binDirFor(t)
	natsCLI := buildNatsCLI(t) // meanwhile
	dataDir := filepath.Join(t.TempDir(), "data")
	t.Cleanup(func() { os.RemoveAll(localpg.DataDirFor(filepath.Join(dataDir, "pg"))) })
	// Ports of our own: a developer's NATS (or make run) may hold the
	// defaults 4222 and 8222.
	natsPort, monitorPort := freeTestPort(t), freeTestPort(t)
	args := []string{"run", "--data-dir", dataDir, "--bin", bin, "--status-every", "1s",
		"--nats-port", strconv.Itoa(natsPort), "--nats-monitor-port", strconv.Itoa(monitorPort)}
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
	var prev string
	for _, line := range strings.Split(first, "\n") {
		if strings.HasPrefix(line, "status |") {
			if line == prev {
				t.Errorf("status line repeated although no figure changed: %s", line)
			}
			prev = line
		}
	}
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
	checkInspection(t, p.out.String(), natsCLI, natsPort, monitorPort)
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

// natsCLIModule is the nats CLI the inspection test builds from the module
// proxy (v0.5.1 is not to be used).
const natsCLIModule = "github.com/nats-io/natscli/nats@v0.5.0"

// buildNatsCLI starts building the nats CLI in the background and returns
// a function that waits for it: the binary's path, or "" when it could not
// be built (no module proxy), after which the test reads the same report
// through nats.go.
func buildNatsCLI(t *testing.T) func() string {
	t.Helper()
	dir := t.TempDir()
	done := make(chan struct{})
	var path string
	go func() {
		defer close(done)
		cmd := exec.Command("go", "install", natsCLIModule)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOWORK=off", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("go install %s: %v (the report is read through nats.go instead)\n%s", natsCLIModule, err, tail(string(out)))
			return
		}
		path = filepath.Join(dir, "nats")
	}()
	return func() string {
		select {
		case <-done:
		case <-time.After(15 * time.Minute):
			t.Fatal("building the nats CLI took more than 15 minutes")
		}
		return path
	}
}

func freeTestPort(t *testing.T) int {
	t.Helper()
	p, err := localpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkInspection runs the inspection commands `bcreg-dev run` printed:
// the nats CLI's consumer report of BCREG_CREDS (or, without the CLI, the
// same figures through nats.go's JetStream API) on the printed server, and
// /jsz?consumers=true on the printed monitoring address; the console and
// the database URLs are printed too.
func checkInspection(t *testing.T, out string, natsCLI func() string, natsPort, monitorPort int) {
	t.Helper()
	server := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	for _, want := range []string{
		"nats --server " + server + " stream ls",
		"nats --server " + server + " consumer report BCREG_CREDS",
		fmt.Sprintf("curl -s 'http://127.0.0.1:%d/jsz?consumers=true'", monitorPort),
		"/bcreg_source", "/bcreg_events", "console      http://",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the launcher did not print %q\n%s", want, tail(out))
		}
	}
	m := regexp.MustCompile(`(?m)^\s+poster lag\s+nats (--server \S+ consumer report BCREG_CREDS)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no consumer report command printed\n%s", tail(out))
	}
	if cli := natsCLI(); cli != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, cli, strings.Fields(m[1])...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no saved nats contexts
		report, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nats %s: %v\n%s", m[1], err, report)
		}
		t.Logf("nats %s:\n%s", m[1], report)
		for _, want := range []string{"BCREG_CREDS", "poster"} {
			if !strings.Contains(string(report), want) {
				t.Errorf("the consumer report does not name %s:\n%s", want, report)
			}
		}
	} else {
		nc, err := nats.Connect(server)
		if err != nil {
			t.Fatalf("connect to the printed server %s: %v", server, err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		info, err := js.Consumer(ctx, "BCREG_CREDS", "poster")
		if err != nil {
			t.Fatalf("consumer report of BCREG_CREDS through nats.go: %v", err)
		}
		ci := info.CachedInfo()
		t.Logf("BCREG_CREDS/poster: %d pending, %d in flight, %d redelivered, %d waiting pulls",
			ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.NumWaiting)
	}
	mu := regexp.MustCompile(`curl -s '(\S+)'`).FindStringSubmatch(out)
	if mu == nil {
		t.Fatalf("no /jsz command printed")
	}
	resp, err := http.Get(mu[1])
	if err != nil {
		t.Fatalf("GET %s: %v", mu[1], err)
	}
	defer resp.Body.Close()
	var jsz struct {
		AccountDetails []struct {
			Streams []struct {
				Name      string `json:"name"`
				Consumers []struct {
					Name string `json:"name"`
				} `json:"consumer_detail"`
			} `json:"stream_detail"`
		} `json:"account_details"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jsz); err != nil {
		t.Fatalf("GET %s: %v", mu[1], err)
	}
	var consumers []string
	for _, a := range jsz.AccountDetails {
		for _, st := range a.Streams {
			for _, c := range st.Consumers {
				consumers = append(consumers, st.Name+"/"+c.Name)
			}
		}
	}
	if !slices.Contains(consumers, "BCREG_CREDS/poster") || !slices.Contains(consumers, "BCREG_EVENTS/credential-builder") {
		t.Errorf("/jsz?consumers=true lists %v, want the poster's and the builder's consumers", consumers)
	}
}
