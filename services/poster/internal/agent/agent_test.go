package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		row  Row
		want Class
	}{
		{"success", Row{Success: true, Result: "3f2a-…"}, Issued},
		{"C4 unknown schema", Row{Result: "Could not locate credential type: nope.schema/1.0 None"}, ConfigError},
		{"C13 unknown connection", Row{Result: "Unknown connection id: nope"}, ConfigError},
		{"non-issuer agent", Row{Result: "Cannot issue credential from non-issuer agent: x"}, ConfigError},
		{"C14 connection not synced", Row{Result: "Connection is not yet synchronized: bcreg"}, Transient},
		{"C14 issuer not synced", Row{Result: "Issuer is not yet synchronized: bcreg"}, Transient},
		{"C15 not stored", Row{Result: "Credential was not stored: Duplicate credential"}, Rejected},
		{"C16 OrgBook 502", Row{Result: "Bad response from post_json: (502) <html>Bad Gateway</html>"}, Transient},
		{"C16 OrgBook 429", Row{Result: "Bad response from post_json: (429) slow down"}, Transient},
		{"OrgBook 400", Row{Result: "Bad response from post_json: (400) invalid"}, Rejected},
		{"C16 timeout", Row{Result: "Connection timed out during post_json"}, Transient},
		{"client exception", Row{Result: "Exception during post_json: Cannot connect (None)"}, Transient},
		{"indy error", Row{Result: "Exception while handling request"}, Transient},
		{"credential request", Row{Result: "Could not create credential request: x"}, Transient},
		{"A5 webhook timeout", Row{Result: "9b1c…::Error thread timeout"}, Transient},
		{"A6 problem report", Row{Result: "9b1c…::Issuer credential definition not found"}, Rejected},
		{"controller admin 500", Row{Result: "500 Server Error: Internal Server Error for url: http://aca-py:8024/issue-credential/send"}, Transient},
		{"controller admin refused", Row{Result: "HTTPConnectionPool(host='aca-py', port=8024): Max retries exceeded with url: /x (Caused by NewConnectionError: Connection refused)"}, Transient},
		{"controller admin 400", Row{Result: "400 Client Error: Bad Request for url: http://aca-py:8024/issue-credential/send"}, Rejected},
		{"unknown text", Row{Result: "something else"}, Rejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.row); got != tc.want {
				t.Errorf("Classify(%q) = %v, want %v", tc.row.Result, got, tc.want)
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		want    []Endpoint
		wantErr string
	}{
		{"vonx health at the host root", Config{URLs: "http://bcreg-x-agent:8080/bcreg", Protocol: ProtocolVonX},
			[]Endpoint{{"http://bcreg-x-agent:8080/bcreg", "http://bcreg-x-agent:8080/bcreg/issue-credential", "http://bcreg-x-agent:8080/health"}}, ""},
		{"several agents", Config{URLs: "http://a:5000/bcreg/, http://b:5000/bcreg", Protocol: ProtocolVonX},
			[]Endpoint{{"http://a:5000/bcreg", "http://a:5000/bcreg/issue-credential", "http://a:5000/health"},
				{"http://b:5000/bcreg", "http://b:5000/bcreg/issue-credential", "http://b:5000/health"}}, ""},
		{"controller v10", Config{URLs: "http://c:5000", Protocol: ProtocolController, IssueVersion: "V10"},
			[]Endpoint{{"http://c:5000", "http://c:5000/issue-credential", "http://c:5000/readiness"}}, ""},
		{"controller v20", Config{URLs: "http://c:5000", Protocol: ProtocolController, IssueVersion: "v20"},
			[]Endpoint{{"http://c:5000", "http://c:5000/issue-credential-v20", "http://c:5000/readiness"}}, ""},
		{"explicit health", Config{URLs: "http://a/bcreg", HealthURLs: "http://a/status", Protocol: ProtocolVonX},
			[]Endpoint{{"http://a/bcreg", "http://a/bcreg/issue-credential", "http://a/status"}}, ""},
		{"health count mismatch", Config{URLs: "http://a/bcreg,http://b/bcreg", HealthURLs: "http://a/health", Protocol: ProtocolVonX}, nil, "2 agent URLs"},
		{"not a URL", Config{URLs: "bcreg-agent:8000", Protocol: ProtocolVonX}, nil, "not an http(s) URL"},
		{"none", Config{URLs: " , ", Protocol: ProtocolVonX}, nil, "no agent URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.Endpoints()
			if tc.wantErr != "" {
				if err == nil || !contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

var regItem = Item{Schema: "registration.bc_registries", Version: "1.0.36",
	Attributes: map[string]any{"registration_id": "BC1", "entity_name": "One Ltd."}}

func TestRetryAfterHonoured(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "busy", http.StatusTooManyRequests)
	}))
	defer srv.Close()
	c := &Client{Endpoint: Endpoint{IssueURL: srv.URL}}
	_, err := c.Issue(context.Background(), []Item{regItem})
	var re *RequestError
	if !errors.As(err, &re) || re.Status != 429 || re.RetryAfter != 7*time.Second {
		t.Fatalf("error %#v, want 429 with Retry-After 7s", err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now); got != 90*time.Second {
		t.Errorf("HTTP-date Retry-After = %v, want 90s", got)
	}
}

// TestEncodeBodyIsStable: attribute keys sorted, HTML not escaped, one
// line.
func TestEncodeBodyIsStable(t *testing.T) {
	body, err := EncodeBody([]Item{{Schema: "s", Version: "1", Attributes: map[string]any{"b": "<&>", "a": nil, "c": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"schema":"s","version":"1","attributes":{"a":null,"b":"<&>","c":1}}]`
	if diff := cmp.Diff(want, string(body)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// mapBody is the body EncodeBody writes for raw decoded into a map (what
// the poster sent for every credential before Verbatim).
func mapBody(t testing.TB, raw string) (string, bool) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || dec.More() {
		return "", false
	}
	body, err := EncodeBody([]Item{{Schema: "s", Version: "1", Attributes: m}})
	if err != nil {
		t.Fatal(err)
	}
	return string(body), true
}

// TestVerbatim: text Verbatim passes on is the very body the map would
// give; text that encoding the map would change is not passed on.
func TestVerbatim(t *testing.T) {
	tests := []struct {
		name, raw string
		want      bool
	}{
		{"outbox text", `{"effective_date":"2019-01-02T11:04:05+00:00","entity_name":"One Ltd.","n":1.50,"none":null,"ok":true}`, true},
		{"nested sorted", `{"a":{"x":[1,{"p":"q","r":[]}],"y":{}},"b":"<&>"}`, true},
		{"empty", `{}`, true},
		{"UTF-8 text", `{"entity_name":"Café Ltd."}`, true},
		{"empty key first", `{"":1,"a":2}`, true},
		{"HTML escaped by the outbox", `{"entity_name":"A \u0026 B"}`, false},
		{"non-ASCII escaped", `{"entity_name":"Caf\u00e9"}`, false},
		{"keys out of order", `{"b":1,"a":2}`, false},
		{"nested keys out of order", `{"a":{"y":1,"x":2}}`, false},
		{"duplicate key", `{"a":1,"a":2}`, false},
		{"space", `{"a": 1}`, false},
		{"line separator", "{\"a\":\"x\u2028y\"}", false},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", false},
		{"not an object", `[1]`, false},
		{"trailing text", `{}{}`, false},
		{"null", `null`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verbatim([]byte(tt.raw)); got != tt.want {
				t.Errorf("Verbatim(%s) = %v, want %v", tt.raw, got, tt.want)
			}
			checkVerbatim(t, tt.raw)
		})
	}
}

// checkVerbatim fails when Verbatim passes on text that differs from the
// map's encoding. Verbatim's input is valid JSON (the bundle's decoder
// checked it).
func checkVerbatim(t testing.TB, raw string) {
	if !json.Valid([]byte(raw)) || !Verbatim([]byte(raw)) {
		return
	}
	viaMap, ok := mapBody(t, raw)
	if !ok {
		t.Fatalf("Verbatim(%q) = true, but it is not a JSON object", raw)
	}
	passed, err := EncodeBody([]Item{{Schema: "s", Version: "1", Attributes: json.RawMessage(raw)}})
	if err != nil {
		t.Fatal(err)
	}
	if viaMap != string(passed) {
		t.Fatalf("Verbatim(%q) = true, but the bodies differ:\nmap:      %s\nverbatim: %s", raw, viaMap, passed)
	}
	// One more member, in the text and in the map.
	for _, kv := range [][2]string{{"reason_description", "Filing:ANNBC"}, {"", "<é>"}, {"m", "x\u2028"}, {"zz", ""}} {
		with, ok := WithAttribute([]byte(raw), kv[0], kv[1])
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if _, has := m[kv[0]]; has {
			if ok {
				t.Fatalf("WithAttribute(%q, %q) replaced a member in the text", raw, kv[0])
			}
			continue
		}
		if !ok {
			t.Fatalf("WithAttribute(%q, %q) refused a verbatim text", raw, kv[0])
		}
		m[kv[0]] = kv[1]
		want, err := EncodeBody([]Item{{Schema: "s", Version: "1", Attributes: m}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := EncodeBody([]Item{{Schema: "s", Version: "1", Attributes: with}})
		if err != nil {
			t.Fatal(err)
		}
		if string(want) != string(got) {
			t.Fatalf("WithAttribute(%q, %q, %q):\nmap:  %s\ntext: %s", raw, kv[0], kv[1], want, got)
		}
	}
}

func FuzzVerbatim(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,{"c":"d"}]}`, `{"b":1,"a":2}`, `{"a":"<>"}`, `{"é":1,"z":2}`, `{"z":2,"é":1}`, `{"a":1e5,"b":-0.0}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) { checkVerbatim(t, raw) })
}

// TestEncodeBodyIsEncodingJSON: the body is what encoding/json (without
// HTML escapes) writes for the items, whatever the strings hold.
func TestEncodeBodyIsEncodingJSON(t *testing.T) {
	items := []Item{
		{Schema: "registration.registries.ca", Version: "1.0.42", Attributes: map[string]any{"b": "<&>", "a": nil, "c": json.Number("1.50")}},
		{Schema: "s\"\\<>é\u2028\x01", Version: "1\xff", Attributes: map[string]any{"k\u2029": []any{"x", 1.5, map[string]any{}}}},
		{Schema: "", Version: "", Attributes: nil},
		{Schema: "s", Version: "1", Attributes: json.RawMessage(`{"a":"b"}`)},
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(items); err != nil {
		t.Fatal(err)
	}
	got, err := EncodeBody(items)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.TrimSuffix(buf.String(), "\n"), string(got)); diff != "" {
		t.Errorf("(-encoding/json +EncodeBody):\n%s", diff)
	}
}
