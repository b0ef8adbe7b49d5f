package poster_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/services/poster/internal/agent"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// recordingAgent answers every issue request with success rows and keeps
// the request paths, content types and bodies.
type recordingAgent struct {
	// delay is the agent's latency per request.
	delay  time.Duration
	mu     sync.Mutex
	bodies [][]byte
	paths  []string
	ctypes []string
}

func (a *recordingAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/health", "/readiness":
		w.Write([]byte("ok"))
		return
	}
	body, _ := io.ReadAll(r.Body)
	time.Sleep(a.delay)
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.bodies = append(a.bodies, body)
	a.paths = append(a.paths, r.URL.Path)
	a.ctypes = append(a.ctypes, r.Header.Get("Content-Type"))
	a.mu.Unlock()
	var rows bytes.Buffer
	rows.WriteString("[")
	for i := range items {
		if i > 0 {
			rows.WriteString(", ")
		}
		fmt.Fprintf(&rows, `{"success": true, "result": "id-%d"}`, i)
	}
	rows.WriteString("]")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(rows.Bytes())
}

// TestWireContract pins the request bodies the poster sends: the VON-X
// batch body and the controller body (the same array; the controller at
// /issue-credential or /issue-credential-v20). A credential's reason goes
// out as reason_description.
func TestWireContract(t *testing.T) {
	tests := []struct {
		name, protocol, version, wantPath, golden string
		specs                                     []credSpec
	}{
		{"vonx", agent.ProtocolVonX, "V10", "/bcreg/issue-credential", "vonx_request.golden.json", []credSpec{
			{schema: "registration.bc_registries", version: "1.0.36", reason: "Filing:NOCAD",
				attrs: map[string]any{"entity_type": "BC", "home_jurisdiction": "BC", "registration_type": "", "entity_name": "Ready Mix Ltd. <&>"}},
			{schema: "relationship.bc_registries", version: "1.0.36",
				attrs: map[string]any{"associated_registration_id": "FM0000001", "relationship": "Owns", "relationship_description": "Does Business As", "relationship_status": "ACT"}},
		}},
		{"controller", agent.ProtocolController, "V20", "/issue-credential-v20", "controller_request.golden.json", []credSpec{
			{schema: "registration.registries.ca", version: "1.0.42", reason: "Filing:NOCAD",
				attrs: map[string]any{"entity_type": "BC", "expiry_date": "", "reason_description": "", "entity_name": "Société Ltée"}},
			{schema: "business_number.registries.ca", version: "1.0.42",
				attrs: map[string]any{"business_number": "123456789", "expiry_date": "", "reason_description": ""}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, agentsim.Config{})
			rec := &recordingAgent{}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			cfg := e.config("p1")
			cfg.Config = agent.Config{URLs: config.URL(srv.URL), Protocol: tc.protocol, IssueVersion: tc.version, HealthInterval: 100 * time.Millisecond}
			if tc.protocol == agent.ProtocolVonX {
				cfg.Config.URLs = config.URL(srv.URL + "/bcreg")
			}
			e.start(cfg)
			// A first corporation, so the poster knows the agent answers
			// at once (before that, a VON-X request goes out group by
			// group: TestWireContractGroupByGroup).
			e.waitFinal(e.seedBundle("BC0000001", tc.specs[1]))
			rec.mu.Lock()
			first := len(rec.bodies)
			rec.mu.Unlock()
			creds := e.seedBundle("BC1529559", tc.specs...)
			e.waitFinal(creds)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.bodies) != first+1 {
				t.Fatalf("%d requests, want 1", len(rec.bodies)-first)
			}
			if rec.paths[first] != tc.wantPath || rec.ctypes[first] != "application/json" {
				t.Errorf("POST %s (%s), want %s (application/json)", rec.paths[first], rec.ctypes[first], tc.wantPath)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, rec.bodies[first], "", "  "); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.golden, append(pretty.Bytes(), '\n'))
			rows := e.rows()
			for i, c := range creds {
				if r := rows[c.hash]; r.Status != "Y" || r.Msg != fmt.Sprintf("id-%d", i) {
					t.Errorf("%s: %+v, want Y with id-%d", c.name, r, i)
				}
			}
		})
	}
}

// TestWireContractGroupByGroup pins what a slow VON-X agent receives: once
// its store calls are known to take 20 ms or more, a request of several
// (schema, version) groups goes out group by group, in order of first
// appearance, each after the one before was answered — the store calls
// VON-X makes of the whole request, in its order.
func TestWireContractGroupByGroup(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	rec := &recordingAgent{delay: 40 * time.Millisecond}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	cfg := e.config("p1")
	cfg.Config = agent.Config{URLs: config.URL(srv.URL + "/bcreg"), Protocol: agent.ProtocolVonX, IssueVersion: "V10", HealthInterval: 100 * time.Millisecond}
	e.start(cfg)
	// A first corporation, so the poster has measured the agent.
	e.waitFinal(e.seedBundle("BC0000001", credSpec{schema: "registration.bc_registries", version: "1.0.36",
		attrs: map[string]any{"entity_name": "First Ltd."}}))
	rec.mu.Lock()
	first := len(rec.bodies)
	rec.mu.Unlock()

	creds := e.seedBundle("BC1529559",
		credSpec{schema: "registration.bc_registries", version: "1.0.36", attrs: map[string]any{"entity_name": "Ready Mix Ltd."}},
		credSpec{schema: "relationship.bc_registries", version: "1.0.36", attrs: map[string]any{"associated_registration_id": "FM0000001"}},
		credSpec{schema: "registration.bc_registries", version: "1.0.36", attrs: map[string]any{"entity_name": "Ready Mix Ltd. (2)"}},
	)
	e.waitFinal(creds)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var all []json.RawMessage
	for _, b := range rec.bodies[first:] {
		all = append(all, b)
	}
	got, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "vonx_group_by_group.golden.json", append(got, '\n'))
}
