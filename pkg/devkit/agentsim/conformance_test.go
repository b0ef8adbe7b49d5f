package agentsim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

const (
	jsonType  = "application/json; charset=utf-8"
	textType  = "text/plain; charset=utf-8"
	htmlType  = "text/html; charset=utf-8"
	flaskType = "application/json"
)

// step is one request of a conformance case and the exact reply it must
// get (result ids masked as <id>).
type step struct {
	method, path, contentType, body string
	want                            reply
}

// recv is the part of a Received record a case checks.
type recv struct {
	Schema, Version, Attributes string
}

type conformanceCase struct {
	name  string
	cfg   func(*Config)
	steps []step
	// run replaces steps for cases that need more than requests.
	run func(t *testing.T, s *Sim, srv *httptest.Server, clock *testenv.Clock)
	// received is what must be recorded, in order.
	received []recv
}

func issueStep(path, body string, want reply) step {
	return step{http.MethodPost, path, "application/json", body, want}
}

func ok200(body string) reply { return reply{http.StatusOK, jsonType, body} }

func bad400(msg string) reply { return reply{http.StatusBadRequest, textType, msg} }

var aiohttp500Reply = reply{http.StatusInternalServerError, htmlType, aiohttp500}

func runConformance(t *testing.T, cases []conformanceCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			clock := testenv.NewClock(time.Date(2018, 10, 9, 12, 0, 0, 0, time.UTC))
			s, srv := startSim(t, cfg, clock)
			if tc.run != nil {
				tc.run(t, s, srv, clock)
			}
			for i, st := range tc.steps {
				got := call(t, srv, st.method, st.path, st.contentType, st.body)
				if diff := cmp.Diff(st.want, got); diff != "" {
					t.Errorf("step %d: %s %s %s: reply (-want +got):\n%s", i+1, st.method, st.path, st.body, diff)
				}
			}
			got := []recv{}
			for _, r := range s.Received(0) {
				got = append(got, recv{r.Schema, r.Version, string(r.Attributes)})
			}
			want := tc.received
			if want == nil {
				want = []recv{}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("received (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConformance runs the cases of docs/design/agent.md §6, each named by case.
func TestConformance(t *testing.T) {
	t.Parallel()
	notFoundItem := `{"schema":"nope.schema","version":"1.0","attributes":` + relAttrs + `}`
	runConformance(t, []conformanceCase{
		{
			name: "C1_single_mode_issue",
			steps: []step{issueStep("/bcreg/issue-credential?schema=registration.bc_registries&version=1.0.36", regAttrs,
				ok200(`{"success": true, "result": "<id>"}`))},
			received: []recv{{reg36, "1.0.36", regAttrs}},
		},
		{
			name: "C2_connection_id_query_and_empty_version",
			cfg:  func(c *Config) { c.SchemasFile = "testdata/test_schemas.yml" },
			steps: []step{issueStep("/issue-credential?schema=test.schema&version=&connection_id=bcreg",
				`{"attr1":"Test Cred","attr2":"Test Value"}`,
				ok200(`{"success": true, "result": "<id>"}`))},
			received: []recv{{"test.schema", "1.0.0", `{"attr1":"Test Cred","attr2":"Test Value"}`}},
		},
		{
			name: "C3_batch_in_input_order",
			run: func(t *testing.T, s *Sim, srv *httptest.Server, _ *testenv.Clock) {
				got := callRaw(t, srv, http.MethodPost, "/bcreg/issue-credential", "application/json",
					batch(item(reg36, "1.0.36", regAttrs), item(rel36, "1.0.36", relAttrs), item(reg36, "1.0.36", regAttrs2)))
				want := ok200(`[{"success": true, "result": "<id>"}, {"success": true, "result": "<id>"}, {"success": true, "result": "<id>"}]`)
				if diff := cmp.Diff(want, reply{got.Status, got.ContentType, maskIDs(got.Body)}); diff != "" {
					t.Errorf("reply (-want +got):\n%s", diff)
				}
				// Row i carries the id of the credential made from item i;
				// the agent issues the REG group, then the REL group.
				rs := rows(t, got.Body)
				rec := s.Received(0)
				if len(rs) != 3 || len(rec) != 3 {
					t.Fatalf("got %d rows and %d records, want 3 and 3", len(rs), len(rec))
				}
				wantIDs := []string{rec[0].Result, rec[2].Result, rec[1].Result}
				gotIDs := []string{rs[0]["result"].(string), rs[1]["result"].(string), rs[2]["result"].(string)}
				if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
					t.Errorf("row ids (-want +got):\n%s", diff)
				}
				if st := s.Stats(); st.Issued != 3 || st.Requests != 1 {
					t.Errorf("stats: issued %d, requests %d; want 3, 1", st.Issued, st.Requests)
				}
			},
			received: []recv{{reg36, "1.0.36", regAttrs}, {reg36, "1.0.36", regAttrs2}, {rel36, "1.0.36", relAttrs}},
		},
		{
			name: "C4_unknown_schema_in_batch",
			steps: []step{issueStep("/bcreg/issue-credential",
				batch(item(reg36, "1.0.36", regAttrs), notFoundItem, item(reg36, "1.0.36", regAttrs2)),
				ok200(`[{"success": true, "result": "<id>"}, {"success": false, "result": "Could not locate credential type: nope.schema/1.0 None"}, {"success": true, "result": "<id>"}]`))},
			received: []recv{{reg36, "1.0.36", regAttrs}, {reg36, "1.0.36", regAttrs2}},
		},
		{
			name: "C5_batch_item_without_version",
			steps: []step{issueStep("/bcreg/issue-credential",
				`[{"schema":"registration.bc_registries","attributes":`+regAttrs+`}]`,
				ok200(`[{"success": true, "result": "<id>"}]`))},
			received: []recv{{reg36, "1.0.36", regAttrs}},
		},
		{
			name:  "C6_empty_batch",
			steps: []step{issueStep("/bcreg/issue-credential", `[]`, ok200(`[]`))},
		},
		{
			name: "C7_missing_schema_property",
			steps: []step{issueStep("/bcreg/issue-credential",
				batch(item(reg36, "1.0.36", regAttrs), `{"version":"1.0.36","attributes":{}}`),
				bad400("Missing 'schema' property"))},
		},
		{
			name: "C8_non_dictionary_attributes",
			steps: []step{
				issueStep("/bcreg/issue-credential", `[{"schema":"registration.bc_registries","attributes":"x"}]`,
					bad400("Missing or non-dictionary 'attributes' property")),
				issueStep("/bcreg/issue-credential", `[{"schema":"registration.bc_registries","version":"1.0.36"}]`,
					bad400("Missing or non-dictionary 'attributes' property")),
				issueStep("/bcreg/issue-credential", `[{"schema":"registration.bc_registries","attributes":null}]`,
					bad400("Missing or non-dictionary 'attributes' property")),
			},
		},
		{
			name: "C9_item_not_an_object",
			steps: []step{
				issueStep("/bcreg/issue-credential", `["x"]`, bad400("Expected JSON object")),
				issueStep("/bcreg/issue-credential", batch(item(reg36, "1.0.36", regAttrs), `[]`), bad400("Expected JSON object")),
			},
		},
		{
			name: "C10_single_mode_without_schema",
			steps: []step{
				issueStep("/bcreg/issue-credential", regAttrs, bad400("Missing 'schema' parameter")),
				issueStep("/bcreg/issue-credential?schema=&version=1.0.36", regAttrs, bad400("Missing 'schema' parameter")),
			},
		},
		{
			name: "C11_single_mode_body_not_an_object",
			steps: []step{
				issueStep("/bcreg/issue-credential?schema=registration.bc_registries", `"abc"`,
					bad400("Request body must contain the credential attributes as a JSON object")),
				issueStep("/bcreg/issue-credential?schema=registration.bc_registries", `null`,
					bad400("Request body must contain the credential attributes as a JSON object")),
				issueStep("/bcreg/issue-credential?schema=registration.bc_registries", `12`,
					bad400("Request body must contain the credential attributes as a JSON object")),
			},
		},
		{
			name: "C12_empty_or_invalid_json",
			steps: []step{
				issueStep("/bcreg/issue-credential?schema=registration.bc_registries", ``,
					bad400("Request body must contain an application/json payload")),
				issueStep("/bcreg/issue-credential", `{bad json`,
					bad400("Request body must contain an application/json payload")),
				// No Content-Type check: a JSON body sent as text is accepted.
				{http.MethodPost, "/bcreg/issue-credential?schema=registration.bc_registries&version=1.0.36", "text/plain", regAttrs,
					ok200(`{"success": true, "result": "<id>"}`)},
			},
			received: []recv{{reg36, "1.0.36", regAttrs}},
		},
		{
			name: "C13_connection_id_errors",
			steps: []step{
				issueStep("/issue-credential?schema=registration.bc_registries", regAttrs,
					bad400("connection_id must be specified")),
				issueStep("/bcreg/issue-credential?connection_id=x", regAttrs,
					bad400("connection_id must be unspecified or equal to 'bcreg'")),
				issueStep("/bcreg/issue-credential?connection_id=bcreg&schema=registration.bc_registries", regAttrs,
					ok200(`{"success": true, "result": "<id>"}`)),
				issueStep("/nope/issue-credential?schema=registration.bc_registries", regAttrs,
					ok200(`{"success": false, "result": "Unknown connection id: nope"}`)),
				issueStep("/nope/issue-credential", batch(item(reg36, "1.0.36", regAttrs), item(rel36, "1.0.36", relAttrs)),
					ok200(`[{"success": false, "result": "Unknown connection id: nope"}, {"success": false, "result": "Unknown connection id: nope"}]`)),
			},
			received: []recv{{reg36, "1.0.36", regAttrs}},
		},
		{
			name: "C14_not_synchronised_then_synchronised",
			cfg:  func(c *Config) { c.UnsyncedFor = Duration(time.Minute) },
			run: func(t *testing.T, s *Sim, srv *httptest.Server, clock *testenv.Clock) {
				for i, st := range []step{
					{http.MethodGet, "/health", "", "", reply{451, textType, ""}},
					issueStep("/bcreg/issue-credential?schema=registration.bc_registries&version=1.0.36", regAttrs,
						ok200(`{"success": false, "result": "Connection is not yet synchronized: bcreg"}`)),
					issueStep("/bcreg/issue-credential", batch(item(reg36, "1.0.36", regAttrs), item(rel36, "1.0.36", relAttrs)),
						ok200(`[{"success": false, "result": "Connection is not yet synchronized: bcreg"}, {"success": false, "result": "Connection is not yet synchronized: bcreg"}]`)),
					// The connection is checked before the sync state.
					issueStep("/nope/issue-credential?schema=registration.bc_registries", regAttrs,
						ok200(`{"success": false, "result": "Unknown connection id: nope"}`)),
				} {
					if diff := cmp.Diff(st.want, call(t, srv, st.method, st.path, st.contentType, st.body)); diff != "" {
						t.Errorf("unsynced step %d (-want +got):\n%s", i+1, diff)
					}
				}
				clock.Advance(time.Minute)
				if diff := cmp.Diff(reply{200, textType, "ok"}, call(t, srv, http.MethodGet, "/health", "", "")); diff != "" {
					t.Errorf("synced health (-want +got):\n%s", diff)
				}
				if st := s.Stats(); st.Rejected != 4 || st.Issued != 0 {
					t.Errorf("stats: rejected %d, issued %d; want 4, 0", st.Rejected, st.Issued)
				}
			},
			steps: []step{issueStep("/bcreg/issue-credential?schema=registration.bc_registries&version=1.0.36", regAttrs,
				ok200(`{"success": true, "result": "<id>"}`))},
			received: []recv{{reg36, "1.0.36", regAttrs}},
		},
		{
			name: "C15_orgbook_rejects_one_row",
			cfg: func(c *Config) {
				c.ServedBy = "tob-api-3"
				c.Rejections = Rejections{{Attribute: "registration_id", Value: "BC0000002", Message: "Duplicate credential"}}
			},
			steps: []step{
				issueStep("/bcreg/issue-credential",
					batch(item(reg36, "1.0.36", regAttrs), item(reg36, "1.0.36", regAttrs2), item(rel36, "1.0.36", relAttrs)),
					ok200(`[{"success": true, "result": "<id>", "served_by": "tob-api-3"}, {"success": false, "result": "Credential was not stored: Duplicate credential", "served_by": "tob-api-3"}, {"success": true, "result": "<id>", "served_by": "tob-api-3"}]`)),
				// In single mode the failure carries no served_by.
				issueStep("/bcreg/issue-credential?schema=registration.bc_registries", regAttrs2,
					ok200(`{"success": false, "result": "Credential was not stored: Duplicate credential"}`)),
			},
			received: []recv{{reg36, "1.0.36", regAttrs}, {rel36, "1.0.36", relAttrs}},
		},
		{
			name: "C16_orgbook_fails_a_group",
			cfg: func(c *Config) {
				c.StoreTimeout = Duration(10 * time.Millisecond)
				c.Rejections = Rejections{
					{Schema: rel36, Status: 502, Message: "<html>Bad Gateway</html>"},
					{Schema: "address.bc_registries", Timeout: true},
				}
			},
			steps: []step{
				issueStep("/bcreg/issue-credential",
					batch(item(reg36, "1.0.36", regAttrs), item(rel36, "1.0.36", relAttrs), item(rel36, "1.0.36", relAttrs)),
					ok200(`[{"success": true, "result": "<id>"}, {"success": false, "result": "Bad response from post_json: (502) <html>Bad Gateway</html>"}, {"success": false, "result": "Bad response from post_json: (502) <html>Bad Gateway</html>"}]`)),
				issueStep("/bcreg/issue-credential",
					batch(item("address.bc_registries", "1.0.36", `{"registration_id":"BC1"}`), item(reg36, "1.0.36", regAttrs2)),
					ok200(`[{"success": false, "result": "Connection timed out during post_json"}, {"success": true, "result": "<id>"}]`)),
			},
			received: []recv{{reg36, "1.0.36", regAttrs}, {reg36, "1.0.36", regAttrs2}},
		},
		{
			name: "C17_non_string_version_is_500",
			steps: []step{
				issueStep("/bcreg/issue-credential", `[{"schema":"registration.bc_registries","version":1.036,"attributes":{}}]`,
					aiohttp500Reply),
				// Groups run in order: the one before the bad group is
				// issued, the one after is not.
				issueStep("/bcreg/issue-credential",
					batch(item(reg36, "1.0.36", regAttrs), `{"schema":"relationship.bc_registries","version":1.036,"attributes":{}}`, item(rel36, "1.0.36", relAttrs)),
					aiohttp500Reply),
				// An unhashable schema fails while grouping, before anything.
				issueStep("/bcreg/issue-credential",
					batch(item(reg36, "1.0.36", regAttrs2), `{"schema":["x"],"attributes":{}}`),
					aiohttp500Reply),
				// A null schema is not a type error: it is not found.
				issueStep("/bcreg/issue-credential", `[{"schema":null,"attributes":{}}]`,
					ok200(`[{"success": false, "result": "Could not locate credential type: None/None None"}]`)),
			},
			received: []recv{{reg36, "1.0.36", regAttrs}},
		},
		{
			name: "C18_get_issue_credential_is_405",
			steps: []step{
				{http.MethodGet, "/bcreg/issue-credential", "", "", reply{405, textType, "405: Method Not Allowed"}},
				{http.MethodGet, "/issue-credential", "", "", reply{405, textType, "405: Method Not Allowed"}},
				{http.MethodPost, "/bcreg/issue-credential/", "application/json", "[]", reply{404, textType, "404: Not Found"}},
				{http.MethodGet, "/bcreg/health", "", "", reply{404, textType, "404: Not Found"}},
			},
		},
		{
			name: "C19_extra_and_missing_attributes",
			steps: []step{issueStep("/bcreg/issue-credential?schema=relationship.bc_registries&version=1.0.36",
				`{"registration_id":"FM1","foo":"bar"}`,
				ok200(`{"success": true, "result": "<id>"}`))},
			received: []recv{{rel36, "1.0.36", `{"registration_id":"FM1","foo":"bar"}`}},
		},
	})
}

// TestConformanceController runs the controller cases A1–A7.
func TestConformanceController(t *testing.T) {
	t.Parallel()
	controller := func(c *Config) { c.Mode = ModeController }
	badRequest := reply{400, htmlType, werkzeugPage(400, "")}
	internal := reply{500, htmlType, werkzeugPage(500, "")}
	ctrlStep := func(path, body string, want reply) step {
		return step{http.MethodPost, path, "application/json", body, want}
	}
	runConformance(t, []conformanceCase{
		{
			name: "A1_issue_one_credential",
			cfg:  controller,
			steps: []step{
				ctrlStep("/issue-credential", batch(item(reg42, "1.0.42", reg42Attrs)),
					reply{200, flaskType, "[{\"result\":\"<id>\",\"success\":true}]\n"}),
				ctrlStep("/issue-credential-v20", batch(item(reg42, "1.0.42", reg42Attrs)),
					reply{200, flaskType, "[{\"result\":\"<id>\",\"success\":true}]\n"}),
			},
			received: []recv{{reg42, "1.0.42", reg42Attrs}, {reg42, "1.0.42", reg42Attrs}},
		},
		{
			name: "A2_not_synced",
			cfg: func(c *Config) {
				controller(c)
				c.UnsyncedFor = -1
			},
			steps: []step{
				ctrlStep("/issue-credential", batch(item(reg42, "1.0.42", reg42Attrs)),
					reply{503, htmlType, werkzeugPage(503, "Connection not yet synced")}),
				{http.MethodGet, "/readiness", "", "", reply{503, htmlType, werkzeugPage(503, "Connection not ready to process requests")}},
				{http.MethodGet, "/health", "", "", reply{503, htmlType, werkzeugPage(503, "Connection not yet synced")}},
			},
		},
		{
			name: "A3_empty_or_non_json_body",
			cfg:  controller,
			steps: []step{
				ctrlStep("/issue-credential", `[]`, badRequest),
				ctrlStep("/issue-credential", `{}`, badRequest),
				ctrlStep("/issue-credential", ``, badRequest),
				ctrlStep("/issue-credential", `{bad json`, badRequest),
				{http.MethodPost, "/issue-credential", "text/plain", batch(item(reg42, "1.0.42", reg42Attrs)), badRequest},
				{http.MethodGet, "/readiness", "", "", reply{200, flaskType, "{\"success\":true}\n"}},
			},
		},
		{
			name: "A4_unknown_schema_or_version_is_500",
			cfg:  controller,
			steps: []step{
				ctrlStep("/issue-credential", batch(item(reg42, "1.0.42", reg42Attrs), item(reg42, "1.0.41", reg42Attrs)), internal),
				ctrlStep("/issue-credential", `[{"schema":"nope","version":"1.0.42","attributes":{}}]`, internal),
				ctrlStep("/issue-credential", `[{"schema":"registration.registries.ca","attributes":{}}]`, internal),
				ctrlStep("/issue-credential", `{"schema":"registration.registries.ca"}`, internal),
			},
			received: []recv{{reg42, "1.0.42", reg42Attrs}},
		},
		{
			name: "A5_webhook_timeout",
			cfg: func(c *Config) {
				controller(c)
				c.StoreTimeout = Duration(10 * time.Millisecond)
				c.Rejections = Rejections{{Attribute: "entity_name", Value: "Slow Co.", Timeout: true}}
			},
			steps: []step{
				ctrlStep("/issue-credential", batch(item(reg42, "1.0.42", `{"entity_name":"Slow Co."}`), item(reg42, "1.0.42", reg42Attrs)),
					reply{200, flaskType, "[{\"result\":\"<id>::Error thread timeout\",\"success\":false},{\"result\":\"<id>\",\"success\":true}]\n"}),
			},
			received: []recv{{reg42, "1.0.42", reg42Attrs}},
		},
		{
			name: "A6_problem_report",
			cfg: func(c *Config) {
				controller(c)
				c.Rejections = Rejections{{Schema: "business_number.registries.ca", Message: "Issuer credential definition not found"}}
			},
			steps: []step{
				ctrlStep("/issue-credential", batch(item("business_number.registries.ca", "1.0.42", `{"registration_id":"BC1","business_number":"123"}`)),
					reply{200, flaskType, "[{\"result\":\"<id>::Issuer credential definition not found\",\"success\":false}]\n"}),
			},
		},
		{
			name: "A7_unknown_path",
			cfg:  controller,
			steps: []step{
				{http.MethodGet, "/nope", "", "", reply{404, flaskType, "{\"error\":\"Not found\"}\n"}},
				{http.MethodPost, "/bcreg/issue-credential", "application/json", "[]", reply{404, flaskType, "{\"error\":\"Not found\"}\n"}},
				{http.MethodGet, "/issue-credential", "", "", reply{405, htmlType, werkzeugPage(405, "")}},
			},
		},
	})
}

// TestConformancePipeline provokes the poster's cases P1–P3.
func TestConformancePipeline(t *testing.T) {
	t.Parallel()
	three := batch(item(reg36, "1.0.36", regAttrs), item(rel36, "1.0.36", relAttrs), item(reg36, "1.0.36", regAttrs2))
	runConformance(t, []conformanceCase{
		{
			name:  "P1_non_200_reply",
			cfg:   func(c *Config) { c.ErrorRate = 1 },
			steps: []step{issueStep("/bcreg/issue-credential", three, aiohttp500Reply)},
		},
		{
			name: "P1_non_200_reply_502",
			cfg:  func(c *Config) { c.ErrorRate, c.ErrorStatus = 1, 502 },
			steps: []step{issueStep("/bcreg/issue-credential", three,
				reply{502, textType, "502: Bad Gateway"})},
		},
		{
			name: "P1_controller_non_200_reply",
			cfg: func(c *Config) {
				c.Mode = ModeController
				c.ErrorRate, c.ErrorStatus = 1, 503
			},
			steps: []step{issueStep("/issue-credential", batch(item(reg42, "1.0.42", reg42Attrs)),
				reply{503, htmlType, werkzeugPage(503, "")})},
		},
		{
			name: "P2_non_json_200_reply",
			cfg:  func(c *Config) { c.NonJSONRate = 1 },
			steps: []step{issueStep("/bcreg/issue-credential", three,
				reply{200, htmlType, nonJSONPage})},
		},
		{
			name: "P3_short_batch_reply",
			cfg:  func(c *Config) { c.ShortRate = 1 },
			steps: []step{issueStep("/bcreg/issue-credential", three,
				ok200(`[{"success": true, "result": "<id>"}, {"success": true, "result": "<id>"}]`))},
			received: []recv{{reg36, "1.0.36", regAttrs}, {reg36, "1.0.36", regAttrs2}, {rel36, "1.0.36", relAttrs}},
		},
		{
			name: "P3_short_single_reply",
			cfg:  func(c *Config) { c.ShortRate = 1 },
			run: func(t *testing.T, s *Sim, srv *httptest.Server, _ *testenv.Clock) {
				got := post(t, srv, "?schema=relationship.bc_registries", relAttrs)
				full := `{"success": true, "result": "` + s.Received(0)[0].Result + `"}`
				if diff := cmp.Diff(ok200(full[:len(full)/2]), got); diff != "" {
					t.Errorf("reply (-want +got):\n%s", diff)
				}
			},
			received: []recv{{rel36, "1.0.36", relAttrs}},
		},
	})
}

// TestVonXDetails covers VON-X behaviour outside the numbered cases.
func TestVonXDetails(t *testing.T) {
	t.Parallel()
	runConformance(t, []conformanceCase{
		{
			name: "non_ascii_is_escaped_like_python",
			steps: []step{issueStep("/bcreg/issue-credential", `[{"schema":"nöpe</x>","attributes":{}}]`,
				ok200(`[{"success": false, "result": "Could not locate credential type: n\u00f6pe</x>/None None"}]`))},
		},
		{
			name: "empty_version_query_prints_empty",
			steps: []step{issueStep("/bcreg/issue-credential?schema=nope&version=", `{}`,
				ok200(`{"success": false, "result": "Could not locate credential type: nope/ None"}`))},
		},
		{
			name: "invalid_utf8_is_500",
			steps: []step{issueStep("/bcreg/issue-credential?schema=registration.bc_registries", "{\"a\":\"\xff\"}",
				aiohttp500Reply)},
		},
		{
			name: "body_of_1MiB_is_413",
			steps: []step{issueStep("/bcreg/issue-credential?schema=registration.bc_registries",
				`{"a":"`+pad(1<<20)+`"}`,
				reply{413, textType, "Maximum request body size 1048576 exceeded, actual body size 1048584"})},
		},
		{
			name: "health_and_status",
			steps: []step{
				{http.MethodGet, "/health", "", "", reply{200, textType, "ok"}},
				{http.MethodPost, "/health", "", "", reply{405, textType, "405: Method Not Allowed"}},
				{http.MethodGet, "/status", "", "", ok200(`{"id": "manager", "failed": false, "synced": true, "syncing": false, "started": true, ` +
					`"stats": {"avg": {}, "count": {}, "current": {}, "max": {}, "min": {}, "total": {}}, ` +
					`"services": {"indy": {"id": "indy", "failed": false, "synced": true, "syncing": false, "started": true, ` +
					`"stats": {"avg": {}, "count": {}, "current": {}, "max": {}, "min": {}, "total": {}}}}}`)},
			},
		},
		{
			name: "other_issuer_name",
			cfg:  func(c *Config) { c.Issuer = "bcreg-x" },
			steps: []step{
				issueStep("/bcreg-x/issue-credential?schema=registration.bc_registries", regAttrs,
					ok200(`{"success": true, "result": "<id>"}`)),
				issueStep("/bcreg/issue-credential?schema=registration.bc_registries", regAttrs,
					ok200(`{"success": false, "result": "Unknown connection id: bcreg"}`)),
			},
			received: []recv{{reg36, "1.0.36", regAttrs}},
		},
		{
			name: "schemas_of_both_profiles",
			steps: []step{issueStep("/bcreg/issue-credential",
				batch(item(reg42, "1.0.42", reg42Attrs), item("business_number.registries.ca", "", `{"business_number":"1"}`)),
				ok200(`[{"success": true, "result": "<id>"}, {"success": true, "result": "<id>"}]`))},
			received: []recv{{reg42, "1.0.42", reg42Attrs}, {"business_number.registries.ca", "1.0.42", `{"business_number":"1"}`}},
		},
	})
}

func pad(n int) string { return strings.Repeat("x", n) }
