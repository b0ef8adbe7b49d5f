package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPost: the body is the original's four fields; a non-2xx answer and an
// unreachable hook are errors that never show the URL (it carries a token).
func TestPost(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Header.Get("Content-Type")+" "+string(b))
		if strings.Contains(string(b), "refuse") {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	secret := srv.URL + "/hooks/SECRET-TOKEN"
	tests := []struct {
		name    string
		url     string
		p       Payload
		wantErr string
	}{
		{"accepted", secret, Message("p", "BC Registries", Warning, "queue"), ""},
		{"refused", secret, Message("p", "f", Error, "refuse"), "webhook: answered 403"},
		{"unreachable", "http://127.0.0.1:1/hooks/SECRET-TOKEN", Message("p", "f", Info, "m"), "webhook: unreachable"},
		{"not a URL", "::SECRET-TOKEN", Message("p", "f", Info, "m"), "webhook: BCREG_WEBHOOK_URL is not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Post(context.Background(), srv.Client(), tt.url, tt.p)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "SECRET-TOKEN") {
				t.Fatalf("err = %v, want %q… without the token", err, tt.wantErr)
			}
		})
	}
	want := []string{
		`application/json {"friendlyProjectName":"BC Registries","projectName":"p","statusCode":"WARNING","message":"queue"}`,
		`application/json {"friendlyProjectName":"f","projectName":"p","statusCode":"ERROR","message":"refuse"}`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("bodies (-want +got):\n%s", d)
	}
	var p Payload
	if err := json.Unmarshal([]byte(strings.TrimPrefix(got[0], "application/json ")), &p); err != nil || ParseLevel(p.StatusCode) != Warning {
		t.Errorf("round trip: %+v %v", p, err)
	}
}
