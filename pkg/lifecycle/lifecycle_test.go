package lifecycle

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSidePort(t *testing.T) {
	h := NewHealth(zaptest.NewLogger(t))
	dbErr := errors.New("connection refused")
	var dbDown atomic.Bool
	h.AddCheck("event_db", func(context.Context) error {
		if dbDown.Load() {
			return dbErr
		}
		return nil
	})
	h.AddCheck("nats", func(context.Context) error { return nil })
	if err := h.Serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
	base := "http://" + h.Addr()

	type resp struct {
		Code int
		Body string
	}
	check := func(name, path string, want resp) {
		t.Helper()
		code, body := get(t, base+path)
		if diff := cmp.Diff(want, resp{code, body}); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", name, path, diff)
		}
	}
	check("ready", "/readyz", resp{200, "event_db: ok\nnats: ok\n"})
	dbDown.Store(true)
	check("dependency down", "/readyz", resp{503, "event_db: connection refused\nnats: ok\n"})
	check("liveness ignores dependencies", "/livez", resp{200, "ok\n"})
	h.SetDraining()
	check("draining", "/readyz", resp{503, "shutting down\n"})
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d, missing go collector", code)
	}
}
