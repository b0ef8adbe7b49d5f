package agentsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

const (
	v42     = "1.0.42"
	bn42    = "business_number.registries.ca"
	relat42 = "relationship.registries.ca"
)

// regCred is a registries.ca registration credential of BC0000001.
func regCred(eff, name, status string) string {
	return fmt.Sprintf(`{"registration_id":"BC0000001","registration_date":"2001-02-03T04:05:06+00:00",`+
		`"registration_expiry_date":"","entity_name":%q,"entity_name_assumed":"","entity_status":%q,`+
		`"entity_type":"BC","home_jurisdiction":"BC","registered_jurisdiction":"","effective_date":%q,"expiry_date":""}`, name, status, eff)
}

// issue posts credentials through the agent route and fails on a rejection.
func issue(t *testing.T, srv *httptest.Server, items ...string) {
	t.Helper()
	rep := post(t, srv, "", batch(items...))
	for i, r := range rows(t, rep.Body) {
		if r["success"] != true {
			t.Fatalf("item %d not issued: %v", i, r)
		}
	}
}

// credState is what the storage rule tests compare of a credential.
type credState struct {
	Eff                       string
	Latest, Revoked, Inactive bool
	RevokedByEff              string
}

func regStates(t *testing.T, s *Sim, sourceID string) []credState {
	t.Helper()
	top, ok := s.Topic(sourceID)
	if !ok {
		t.Fatalf("no topic %s", sourceID)
	}
	var out []credState
	for _, set := range top.Sets {
		byID := map[int64]*OBCred{}
		for _, c := range set.Creds {
			byID[c.ID] = c
		}
		for _, c := range set.Creds {
			st := credState{Eff: c.EffectiveDate.Format(time.RFC3339), Latest: c.Latest, Revoked: c.Revoked, Inactive: c.Inactive}
			if by := byID[c.RevokedBy]; by != nil {
				st.RevokedByEff = by.EffectiveDate.Format(time.RFC3339)
			}
			out = append(out, st)
		}
	}
	return out
}

// TestOrgBookStorageRules checks OrgBook's rules: supersession by effective
// date, a late older credential stored revoked, inactive for a historical
// status.
func TestOrgBookStorageRules(t *testing.T) {
	const d1, d2, d3 = "2001-01-01T08:00:00+00:00", "2002-01-01T08:00:00+00:00", "2003-01-01T08:00:00+00:00"
	tests := []struct {
		name  string
		creds []string
		want  []credState
	}{
		{"a newer credential supersedes the older", []string{regCred(d1, "A", "ACT"), regCred(d2, "B", "ACT")}, []credState{
			{Eff: "2001-01-01T08:00:00Z", Revoked: true, RevokedByEff: "2002-01-01T08:00:00Z"},
			{Eff: "2002-01-01T08:00:00Z", Latest: true},
		}},
		{"a late older credential is stored revoked by the later one", []string{regCred(d3, "C", "ACT"), regCred(d1, "A", "ACT")}, []credState{
			{Eff: "2003-01-01T08:00:00Z", Latest: true},
			{Eff: "2001-01-01T08:00:00Z", Revoked: true, RevokedByEff: "2003-01-01T08:00:00Z"},
		}},
		{"an equal effective date supersedes (a re-post)", []string{regCred(d1, "A", "ACT"), regCred(d1, "A2", "ACT")}, []credState{
			{Eff: "2001-01-01T08:00:00Z", Revoked: true, RevokedByEff: "2001-01-01T08:00:00Z"},
			{Eff: "2001-01-01T08:00:00Z", Latest: true},
		}},
		{"a historical status makes the credential inactive", []string{regCred(d1, "A", "ACT"), regCred(d2, "A", "HIS")}, []credState{
			{Eff: "2001-01-01T08:00:00Z", Revoked: true, RevokedByEff: "2002-01-01T08:00:00Z"},
			{Eff: "2002-01-01T08:00:00Z", Latest: true, Inactive: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, srv := startSim(t, Config{}, nil)
			for _, c := range tt.creds {
				issue(t, srv, item(reg42, v42, c))
			}
			if diff := cmp.Diff(tt.want, regStates(t, s, "BC0000001")); diff != "" {
				t.Errorf("credentials (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOrgBookEmptyAttributesNotStored: empty attributes and names are not
// stored, nor claims OrgBook BC does not map.
func TestOrgBookEmptyAttributesNotStored(t *testing.T) {
	s, srv := startSim(t, Config{}, nil)
	issue(t, srv, item(reg42, v42, regCred("2001-01-01T08:00:00+00:00", "A Co.", "ACT")),
		item(bn42, v42, `{"registration_id":"BC0000001","business_number":"123456789","effective_date":"2001-01-01T08:00:00+00:00","expiry_date":""}`))
	top, _ := s.Topic("BC0000001")
	var got []string
	for _, set := range top.Sets {
		for _, c := range set.Creds {
			for _, a := range c.Attrs {
				got = append(got, "attr "+a.Type+"="+a.Value)
			}
			for _, n := range c.Names {
				got = append(got, "name "+n.Type+"="+n.Text)
			}
		}
	}
	want := []string{"attr entity_status=ACT", "attr entity_type=BC", "attr home_jurisdiction=BC",
		"attr registration_date=2001-02-03T04:05:06+00:00", "name entity_name=A Co.",
		"attr business_number=123456789", "name business_number=123456789"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored rows (-want +got):\n%s", diff)
	}
	if ts := s.OrgBookTypes(); len(ts) != 2 || ts[0].Description != reg42 || ts[1].Description != bn42 {
		t.Errorf("credential types = %+v", ts)
	}
}

// TestOrgBookRelationships: a relationship row per active relationship
// credential, none for an expired one, and the related topic is created.
func TestOrgBookRelationships(t *testing.T) {
	s, srv := startSim(t, Config{}, nil)
	rel := func(other, eff, expiry string) string {
		return item(relat42, v42, fmt.Sprintf(`{"registration_id":"FM0000001","associated_registration_id":%q,"associated_registration_name":"",`+
			`"relationship":"IsOwned","relationship_description":"Is Owned By","relationship_status":"ACT","relationship_status_effective":"",`+
			`"effective_date":%q,"expiry_date":%q}`, other, eff, expiry))
	}
	issue(t, srv, rel("BC0000001", "2001-01-01T08:00:00+00:00", ""), rel("BC0000002", "2001-01-01T08:00:00+00:00", ""),
		rel("BC0000002", "2005-01-01T08:00:00+00:00", "2005-01-01T08:00:00+00:00"))
	firm, _ := s.Topic("FM0000001")
	owner1, ok := s.Topic("BC0000001")
	if !ok {
		t.Fatal("the related topic was not created")
	}
	if len(firm.Rels) != 1 || firm.Rels[0].RelatedTopicID != owner1.ID {
		t.Errorf("relationship rows = %+v, want one to BC0000001 (%d)", firm.Rels, owner1.ID)
	}
}

// TestOrgBookDrift: each drift kind changes the view.
func TestOrgBookDrift(t *testing.T) {
	s, srv := startSim(t, Config{}, nil)
	issue(t, srv, item(reg42, v42, regCred("2001-01-01T08:00:00+00:00", "A Co.", "ACT")),
		item(bn42, v42, `{"registration_id":"BC0000001","business_number":"123456789","effective_date":"2001-01-01T08:00:00+00:00","expiry_date":""}`),
		item(relat42, v42, `{"registration_id":"FM0000001","associated_registration_id":"BC0000001","relationship":"IsOwned","effective_date":"2001-01-01T08:00:00+00:00","expiry_date":""}`))
	latest := func(sourceID, schema string) *OBCred {
		top, _ := s.Topic(sourceID)
		for _, set := range top.Sets {
			if s.ob.typeByID(set.TypeID).Description != schema {
				continue
			}
			for _, c := range set.Creds {
				if c.Latest {
					return c
				}
			}
		}
		return nil
	}
	drift := func(d string) reply {
		return call(t, srv, http.MethodPost, "/_sim/orgbook/drift", "application/json", d)
	}
	if r := drift(`{"kind":"set_attribute","source_id":"BC0000001","type":"business_number","value":"123456789BC0001"}`); r.Status != 204 {
		t.Fatalf("set_attribute: %d %s", r.Status, r.Body)
	}
	if got := latest("BC0000001", bn42).Attr("business_number"); got != "123456789BC0001" {
		t.Errorf("business_number = %q", got)
	}
	if r := drift(`{"kind":"set_name","source_id":"BC0000001","type":"entity_name","value":"Other"}`); r.Status != 204 {
		t.Fatalf("set_name: %d %s", r.Status, r.Body)
	}
	if got := latest("BC0000001", reg42).Name("entity_name"); got != "Other" {
		t.Errorf("entity_name = %q", got)
	}
	if r := drift(`{"kind":"drop_relationship","source_id":"FM0000001","related":"BC0000001"}`); r.Status != 204 {
		t.Fatalf("drop_relationship: %d %s", r.Status, r.Body)
	}
	if firm, _ := s.Topic("FM0000001"); len(firm.Rels) != 0 {
		t.Errorf("relationship rows after the drop: %+v", firm.Rels)
	}
	if r := drift(`{"kind":"delete_topic","source_id":"BC0000001"}`); r.Status != 204 {
		t.Fatalf("delete_topic: %d %s", r.Status, r.Body)
	}
	if _, ok := s.Topic("BC0000001"); ok {
		t.Error("the topic is still there")
	}
	if r := drift(`{"kind":"delete_topic","source_id":"BC0000001"}`); r.Status != 400 || !strings.Contains(r.Body, "no topic") {
		t.Errorf("second delete: %d %s", r.Status, r.Body)
	}
	if r := drift(`{"kind":"melt","source_id":"FM0000001"}`); r.Status != 400 {
		t.Errorf("unknown kind: %d %s", r.Status, r.Body)
	}
}

// TestOrgBookAPI checks the read API's shapes, envelope, errors and dates.
func TestOrgBookAPI(t *testing.T) {
	s, srv := startSim(t, Config{}, nil)
	issue(t, srv, item(reg42, v42, regCred("2006-10-17T23:58:42+00:00", "U3 POWER CORP.", "ACT")),
		item(bn42, v42, `{"registration_id":"BC0000001","business_number":"000760180","effective_date":"2006-10-17T23:58:42+00:00","expiry_date":""}`))
	for i := 2; i <= 5; i++ {
		issue(t, srv, item(reg42, v42, strings.ReplaceAll(regCred("2006-10-17T23:58:42+00:00", "X", "ACT"), "BC0000001", fmt.Sprintf("BC000000%d", i))))
	}
	top, _ := s.Topic("BC0000001")

	t.Run("formatted", func(t *testing.T) {
		r := obGet(t, srv, "/api/v2/topic/ident/registration/BC0000001/formatted")
		var got struct {
			ID         int64  `json:"id"`
			SourceID   string `json:"source_id"`
			Type       string `json:"type"`
			Names      []map[string]any
			Attributes []map[string]any
		}
		if r.Status != 200 || json.Unmarshal([]byte(r.Body), &got) != nil {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if got.ID != top.ID || got.SourceID != "BC0000001" || got.Type != OrgBookTopicType {
			t.Errorf("topic = %+v", got)
		}
		if len(got.Names) != 1 || got.Names[0]["text"] != "U3 POWER CORP." || got.Names[0]["last_updated"] != "2006-10-17T23:58:42Z" {
			t.Errorf("names = %v (the BN name is not a formatted name)", got.Names)
		}
		attrs := map[string]any{}
		for _, a := range got.Attributes {
			attrs[a["type"].(string)] = a["value"]
		}
		want := map[string]any{"entity_status": "ACT", "entity_type": "BC", "home_jurisdiction": "BC", "registration_date": "2001-02-03T04:05:06+00:00"}
		if diff := cmp.Diff(want, attrs); diff != "" {
			t.Errorf("attributes: REG only (-want +got):\n%s", diff)
		}
	})
	t.Run("not found", func(t *testing.T) {
		for _, path := range []string{"/api/v2/topic/ident/registration.registries.ca/BC9999999/formatted", "/api/v4/topic/99999/credential-set", "/api/v9/x"} {
			r := obGet(t, srv, path)
			if r.Status != 404 || r.Body != `{"detail":"Not found."}` {
				t.Errorf("%s: %d %s", path, r.Status, r.Body)
			}
		}
	})
	t.Run("credential sets", func(t *testing.T) {
		r := obGet(t, srv, fmt.Sprintf("/api/v4/topic/%d/credential-set", top.ID))
		var sets []struct {
			FirstEffectiveDate string `json:"first_effective_date"`
			Credentials        []struct {
				CredentialType struct{ Description string } `json:"credential_type"`
				EffectiveDate  string                       `json:"effective_date"`
				Latest         bool
				Attributes     []struct{ Type, Value string }
			}
		}
		if r.Status != 200 || json.Unmarshal([]byte(r.Body), &sets) != nil {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if len(sets) != 2 || r.Header.Get("item_count") != "2" {
			t.Fatalf("sets = %d, item_count %q", len(sets), r.Header.Get("item_count"))
		}
		// Set dates: UTC isoformat; credential dates: Pacific time.
		if sets[0].FirstEffectiveDate != "2006-10-17T23:58:42+00:00" || sets[0].Credentials[0].EffectiveDate != "2006-10-17T16:58:42-07:00" {
			t.Errorf("dates: set %q, credential %q", sets[0].FirstEffectiveDate, sets[0].Credentials[0].EffectiveDate)
		}
		if sets[1].Credentials[0].CredentialType.Description != bn42 || sets[1].Credentials[0].Attributes[0].Value != "000760180" {
			t.Errorf("BN set = %+v", sets[1])
		}
	})
	t.Run("topic list envelope", func(t *testing.T) {
		r := obGet(t, srv, "/api/v4/topic?page=2&page_size=2")
		var env struct {
			Total, PageSize, Page, FirstIndex, LastIndex int
			Next, Previous                               *string
			Results                                      []struct {
				SourceID string `json:"source_id"`
			}
		}
		if r.Status != 200 || json.Unmarshal([]byte(r.Body), &env) != nil {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		for _, k := range []string{`"total":5`, `"page_size":2`, `"page":2`, `"first_index":3`, `"last_index":4`} {
			if !strings.Contains(r.Body, k) {
				t.Errorf("envelope lacks %s: %s", k, r.Body)
			}
		}
		if env.Next == nil || !strings.Contains(*env.Next, "page=3") || env.Previous == nil || len(env.Results) != 2 || r.Header.Get("item_count") != "5" {
			t.Errorf("envelope = %+v", env)
		}
		if r := obGet(t, srv, "/api/v4/topic?page=4&page_size=2"); r.Status != 404 || r.Body != `{"detail":"Invalid page."}` {
			t.Errorf("past the end: %d %s", r.Status, r.Body)
		}
		if r := obGet(t, srv, "/api/v4/topic?page_size=1000"); !strings.Contains(r.Body, `"page_size":200`) {
			t.Errorf("page_size not clamped to 200: %s", r.Body)
		}
	})
	t.Run("credential types", func(t *testing.T) {
		r := obGet(t, srv, "/api/v4/credential-type?paging=false")
		if r.Status != 200 || !strings.Contains(r.Body, `"description":"registration.registries.ca"`) {
			t.Errorf("%d %s", r.Status, r.Body)
		}
	})
}

// obGet is a GET of the OrgBook API, with the reply's headers.
func obGet(t *testing.T, srv *httptest.Server, path string) struct {
	Status int
	Body   string
	Header http.Header
} {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return struct {
		Status int
		Body   string
		Header http.Header
	}{resp.StatusCode, string(b), resp.Header}
}

// TestOrgBookTopicByID: /api/v4/topic/{id} names the topics a topic is
// related to and from by id (a relationship credential's topic_relationship
// rows); an unknown id is DRF's 404.
func TestOrgBookTopicByID(t *testing.T) {
	s, srv := startSim(t, Config{}, nil)
	issue(t, srv, item(relat42, v42, `{"registration_id":"FM0000001","associated_registration_id":"BC0000001","associated_registration_name":"",`+
		`"relationship":"IsOwned","relationship_description":"Is Owned By","relationship_status":"ACT","relationship_status_effective":"",`+
		`"effective_date":"2001-01-01T08:00:00+00:00","expiry_date":""}`))
	firm, _ := s.Topic("FM0000001")
	owner, _ := s.Topic("BC0000001")
	type topic struct {
		ID          int64   `json:"id"`
		SourceID    string  `json:"source_id"`
		RelatedTo   []int64 `json:"related_to"`
		RelatedFrom []int64 `json:"related_from"`
	}
	tests := []struct {
		name string
		path string
		code int
		want any
		body string
	}{
		{"the firm", fmt.Sprintf("/api/v4/topic/%d", firm.ID), 200, topic{firm.ID, "FM0000001", []int64{owner.ID}, []int64{}}, ""},
		{"its owner", fmt.Sprintf("/api/v4/topic/%d", owner.ID), 200, topic{owner.ID, "BC0000001", []int64{}, []int64{firm.ID}}, ""},
		{"unknown", "/api/v4/topic/999999", 404, nil, `{"detail":"Not found."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := obGet(t, srv, tt.path)
			if r.Status != tt.code {
				t.Fatalf("%s: %d %s", tt.path, r.Status, r.Body)
			}
			if tt.want == nil {
				if r.Body != tt.body {
					t.Errorf("body %s, want %s", r.Body, tt.body)
				}
				return
			}
			var got topic
			if err := json.Unmarshal([]byte(r.Body), &got); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("topic (-want +got):\n%s", d)
			}
		})
	}
}

// TestOrgBookRateLimit: with SIM_ORGBOOK_RATE, a client gets a burst of
// that many requests, then 429 until its bucket refills (on the
// simulator's clock); the agent's routes are not limited.
func TestOrgBookRateLimit(t *testing.T) {
	clock := testenv.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	_, srv := startSim(t, Config{OrgBookRate: 4}, clock)
	codes := func(n int) []int {
		var out []int
		for range n {
			out = append(out, obGet(t, srv, "/api/v4/credential-type").Status)
		}
		return out
	}
	if d := cmp.Diff([]int{200, 200, 200, 200, 429, 429}, codes(6)); d != "" {
		t.Errorf("a burst (-want +got):\n%s", d)
	}
	issue(t, srv, item(reg42, v42, regCred("2001-01-01T08:00:00+00:00", "A", "ACT"))) // not limited
	clock.Advance(500 * time.Millisecond)                                             // 2 tokens
	if d := cmp.Diff([]int{200, 200, 429}, codes(3)); d != "" {
		t.Errorf("after half a second (-want +got):\n%s", d)
	}
	clock.Advance(time.Hour) // the bucket holds at most the rate
	if d := cmp.Diff([]int{200, 200, 200, 200, 429}, codes(5)); d != "" {
		t.Errorf("after an hour (-want +got):\n%s", d)
	}
}
