package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/bcgov/bcreg-events/pkg/buildinfo"
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
	code, body := get(t, base+"/metrics")
	if code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d, missing go collector", code)
	}
	info := buildinfo.Get()
	wantInfo := `bcreg_build_info{commit="` + info.Commit + `",go_version="` + info.GoVersion + `",version="` + info.Version + `"} 1`
	if !strings.Contains(body, wantInfo) {
		t.Errorf("/metrics lacks %s", wantInfo)
	}
	code, body = get(t, base+"/version")
	var got buildinfo.Info
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("/version: %d %q: %v", code, body, err)
	}
	if diff := cmp.Diff(info, got); diff != "" {
		t.Errorf("/version (-want +got):\n%s", diff)
	}
}

// TestPprof: /debug/pprof/ is served only with WithPprof(true).
func TestPprof(t *testing.T) {
	tests := []struct {
		name string
		on   bool
		want int
	}{
		{"off by default", false, http.StatusNotFound},
		{"on", true, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHealth(zaptest.NewLogger(t), WithPprof(tc.on))
			if err := h.Serve("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/symbol"} {
				code, _ := get(t, "http://"+h.Addr()+path)
				if diff := cmp.Diff(tc.want, code); diff != "" {
					t.Errorf("GET %s (-want +got):\n%s", path, diff)
				}
			}
		})
	}
}
