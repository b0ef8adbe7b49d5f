package devrun

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bcgov/bcreg-events/pkg/testkit/localpg"
)

func freePort(t *testing.T) int {
	t.Helper()
	p, err := localpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNATSOnFixedPorts: the embedded NATS listens on the ports asked for,
// monitoring included; a taken port is a clear error naming the flag that
// changes it.
func TestNATSOnFixedPorts(t *testing.T) {
	port, monitor := freePort(t), freePort(t)
	var out bytes.Buffer
	l := &launcher{opts: Options{DataDir: t.TempDir(), NATSPort: port, NATSMonitorPort: monitor}, scr: newScreen(&out, false)}
	if err := l.startNATS(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.nats.Shutdown(); l.nats.WaitForShutdown() })
	if want := fmt.Sprintf("nats://127.0.0.1:%d", port); l.nats.ClientURL() != want {
		t.Errorf("client URL %s, want %s", l.nats.ClientURL(), want)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/jsz", monitor))
	if err != nil {
		t.Fatalf("monitoring port: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"config"`) {
		t.Errorf("/jsz: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("monitoring at http://127.0.0.1:%d", monitor)) {
		t.Errorf("the monitoring address is not printed:\n%s", out.String())
	}

	tests := []struct {
		name          string
		port, monitor int
		flag          string
	}{
		{"client port taken", port, freePort(t), "--nats-port"},
		{"monitoring port taken", freePort(t), monitor, "--nats-monitor-port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l2 := &launcher{opts: Options{DataDir: t.TempDir(), NATSPort: tt.port, NATSMonitorPort: tt.monitor}, scr: newScreen(io.Discard, false)}
			err := l2.startNATS()
			if err == nil {
				l2.nats.Shutdown()
				t.Fatal("started on a taken port")
			}
			if !strings.Contains(err.Error(), "is taken") || !strings.Contains(err.Error(), tt.flag+" PORT") {
				t.Errorf("error %q does not say the port is taken and how to choose another (%s)", err, tt.flag)
			}
		})
	}
}
