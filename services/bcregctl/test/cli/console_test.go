package cli_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/services/bcregctl/internal/cli"
)

// TestConsoleCommand runs `bcregctl console` as an operator (or a pod)
// would: the pages on BCREG_CONSOLE_ADDR, the side port on BCREG_HTTP_ADDR
// with /livez, /readyz (one line per dependency) and /metrics counting the
// console's requests and refusals, and a clean stop on cancellation.
func TestConsoleCommand(t *testing.T) {
	w := newOpsWorld(t)
	t.Setenv("BCREG_CONSOLE_ADDR", "127.0.0.1:0")
	t.Setenv("BCREG_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("BCREG_CONSOLE_TOKEN", "console-secret-token")

	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		code := cli.Run(ctx, []string{"console", "--refresh", "1s"}, pw, &stderr)
		pw.Close()
		done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		<-done
		t.Fatalf("no start-up line (%v); stderr:\n%s", err, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := regexp.MustCompile(`^console at (http://\S+/) \(actions enabled\); side port (\S+)\n$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("start-up line %q", line)
	}
	pages, side := m[1], "http://"+m[2]

	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(side + "/livez"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/livez = %d %q", code, body)
	}
	if code, body := get(side + "/readyz"); code != http.StatusOK || body != "event_db: ok\nnats: ok\nsource_db: ok\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if code, body := get(pages); code != http.StatusOK || !strings.Contains(body, "BCREG_CREDS") {
		t.Errorf("overview = %d, want 200 with the stages", code)
	}
	if code, body := get(side + "/"); code != http.StatusNotFound || strings.Contains(body, "BCREG_CREDS") {
		t.Errorf("side port / = %d: the pages must not be on the side port", code)
	}
	// A state-changing request without the token is refused and counted.
	resp, err := http.PostForm(pages+"dlq/purge", url.Values{"confirm": {"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST without token = %d, want 403", resp.StatusCode)
	}
	_, metrics := get(side + "/metrics")
	for _, want := range []string{
		`bcreg_console_requests_total{code="200",route="GET /{$}"} 1`,
		`bcreg_console_requests_total{code="403",route="POST /dlq/{action}"} 1`,
		`bcreg_console_refused_total 1`,
		`bcreg_console_samples_total{result="ok"}`,
		`bcreg_console_samples_total{result="error"} 0`,
		`bcreg_console_request_duration_seconds_count{route="GET /{$}"} 1`,
		`bcreg_console_last_sample_timestamp_seconds`,
		`go_goroutines`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, "console-secret-token") {
		t.Error("the token shows in /metrics")
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after cancellation; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("console did not stop within a minute of cancellation")
	}
	// stderr is only read once Run has returned (it writes from goroutines).
	if strings.Contains(stderr.String(), "console-secret-token") {
		t.Error("the token shows in the log")
	}
	for _, u := range []string{pages, side + "/livez"} {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			t.Errorf("%s still answers after the stop", u)
		}
	}
}

func TestConsoleBadAddress(t *testing.T) {
	newOpsWorld(t)
	t.Setenv("BCREG_CONSOLE_ADDR", "no-port")
	if code, _, stderr := run(t, "console"); code != 2 || !strings.Contains(stderr, `console address "no-port"`) {
		t.Errorf("exit %d, stderr %q; want 2 naming the address", code, stderr)
	}
}
