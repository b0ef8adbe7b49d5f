package messages

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/regevent"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sampleEvent() CorpEvent {
	return CorpEvent{V: 1, System: SystemBCReg, CorpNum: "0191294",
		Prev:   regevent.Start,
		Last:   regevent.At(111258289, time.Date(2018, 7, 24, 10, 2, 11, 0, time.UTC)),
		Reason: ReasonEvent, DetectedAt: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
}

func sampleBundle() CredentialBundle {
	return CredentialBundle{V: 1, System: SystemBCReg, CorpNum: "0191294", CorpState: "ACT", Profile: "history",
		Prev: regevent.Start, Last: regevent.At(7, time.Date(2019, 1, 2, 3, 4, 5, 123456000, time.UTC)),
		Credentials: []Credential{{Hash: "ab12", Type: "REG", CredentialID: "BC0191294", Schema: "registration.registries.ca",
			Version: "1.0.42", Attributes: map[string]any{"entity_name": "Café Ltd.", "effective_date": "2019-01-02T11:04:05+00:00"},
			Reason: "Filing:NOCAD", EffectiveDate: "2019-01-02T11:04:05+00:00"}}}
}

func sampleDeadLetter() DeadLetter {
	return DeadLetter{V: 1, Stage: StagePoster, Reason: "Credential was not stored: bad attribute", Deliveries: 7,
		OriginalStream: "BCREG_CREDS", OriginalSubject: "bcreg.creds.BC_REG.0191294", OriginalSeq: 42,
		OriginalHeaders: map[string][]string{"Nats-Msg-Id": {"ab12"}}, FailedAt: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC),
		CorpNum: "0191294", PayloadBase64: []byte(`{"v":1}`)}
}

func rawSampleBundle() CredentialBundle {
	b := sampleBundle()
	c := &b.Credentials[0]
	c.Attributes, c.RawAttributes = nil, json.RawMessage(`{"effective_date": "2019-01-02T11:04:05+00:00", "entity_name": "Café Ltd."}`)
	return b
}

// TestWireFields: Encode's wire types have Credential's and
// CredentialBundle's JSON fields in the same order, so a field added to
// one cannot go missing from bundles whose attributes are raw text.
func TestWireFields(t *testing.T) {
	// fields are the top-level JSON keys v is written with, in order.
	fields := func(v any) []string {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		dec := json.NewDecoder(bytes.NewReader(data))
		if _, err := dec.Token(); err != nil { // {
			t.Fatal(err)
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, k.(string))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	if diff := cmp.Diff(fields(Credential{}), fields(wireCredential{})); diff != "" {
		t.Errorf("wireCredential's fields differ from Credential's (-Credential +wire):\n%s", diff)
	}
	if diff := cmp.Diff(fields(CredentialBundle{}), fields(wireBundle{})); diff != "" {
		t.Errorf("wireBundle's fields differ from CredentialBundle's (-CredentialBundle +wire):\n%s", diff)
	}
}

// TestGolden pins the wire contracts: a change to a message's JSON shows up
// in review as a golden-file diff.
func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		msg  any
	}{
		{"corp_event", sampleEvent()},
		{"credential_bundle", sampleBundle()},
		{"dead_letter", sampleDeadLetter()},
		// The same bundle with its attributes as text (the builder's
		// stored credential): the same bytes.
		{"credential_bundle", rawSampleBundle()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Encode(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if diff := cmp.Diff(string(want[:len(want)-1]), string(got)); diff != "" {
				t.Errorf("wire format changed (-golden +got):\n%s", diff)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	ev := sampleEvent()
	b, _ := Encode(ev)
	got, err := DecodeCorpEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ev, got); diff != "" {
		t.Errorf("corp event (-want +got):\n%s", diff)
	}
	dl := sampleDeadLetter()
	b, _ = Encode(dl)
	gotDL, err := DecodeDeadLetter(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dl, gotDL); diff != "" {
		t.Errorf("dead letter (-want +got):\n%s", diff)
	}
	b, _ = Encode(sampleBundle())
	if _, err := DecodeBundle(b); err != nil {
		t.Fatal(err)
	}
}

func TestUndecodable(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"not json", "\x00garbage"},
		{"unknown version", `{"v":2,"corp_num":"A1"}`},
		{"no version", `{"corp_num":"A1"}`},
		{"no corp_num", `{"v":1}`},
		{"naive date with offset", `{"v":1,"corp_num":"A1","last":{"event_id":1,"event_date":"2018-07-24T10:02:11Z"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeCorpEvent([]byte(tc.data)); !errors.Is(err, ErrUndecodable) {
				t.Errorf("err = %v, want ErrUndecodable", err)
			}
			if _, err := DecodeBundle([]byte(tc.data)); !errors.Is(err, ErrUndecodable) {
				t.Errorf("bundle err = %v, want ErrUndecodable", err)
			}
		})
	}
}

// TestConstructors: each reason's CorpEvent has its range rule: a poll and
// a future-dated event carry the range they are given, an initial load and
// a requeue the whole history up to last.
func TestConstructors(t *testing.T) {
	first, last := regevent.At(5, time.Date(2019, 1, 2, 3, 4, 5, 0, time.UTC)), regevent.At(9, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	pst := time.FixedZone("PST", -8*3600)
	at := time.Date(2026, 11, 27, 0, 0, 0, 0, pst)
	want := func(prev regevent.Position, reason string) CorpEvent {
		return CorpEvent{V: Version, System: SystemBCReg, CorpNum: "A1", Prev: prev, Last: last, Reason: reason, DetectedAt: at.UTC()}
	}
	tests := []struct {
		name string
		got  CorpEvent
		want CorpEvent
	}{
		{"poll", NewPollEvent(SystemBCReg, "A1", first, last, at), want(first, ReasonEvent)},
		{"future-dated", NewFutureDatedEvent(SystemBCReg, "A1", first, last, at), want(first, ReasonFutureDated)},
		{"initial load", NewInitialLoadEvent(SystemBCReg, "A1", last, at), want(regevent.Start, ReasonInitialLoad)},
		{"requeue", NewRequeueEvent(SystemBCReg, "A1", last, at), want(regevent.Start, ReasonRequeue)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if tc.got.DetectedAt.Location() != time.UTC {
				t.Errorf("detected_at %v is not in UTC", tc.got.DetectedAt)
			}
		})
	}
}

// TestDecodeRawBundle: the poster's reading of a bundle is DecodeBundle's,
// with each credential's attributes kept as the JSON text the bundle
// carries; what DecodeBundle refuses it refuses.
func TestDecodeRawBundle(t *testing.T) {
	b, err := Encode(sampleBundle())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := DecodeRawBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleBundle()
	wantAttrs, err := json.Marshal(want.Credentials[0].Attributes)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(wantAttrs), string(raw.Credentials[0].Attributes)); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
	// Everything else as DecodeBundle reads it.
	wantCred := want.Credentials[0]
	wantCred.Attributes = nil
	want.Credentials = nil
	if diff := cmp.Diff(want, raw.CredentialBundle); diff != "" {
		t.Errorf("bundle (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Credential{wantCred}, []Credential{raw.Credentials[0].Credential}); diff != "" {
		t.Errorf("credential (-want +got):\n%s", diff)
	}

	tests := []struct {
		name, data string
		ok         bool
	}{
		{"no attributes", `{"v":1,"corp_num":"A1","credentials":[{"hash":"h","schema":"s"}]}`, true},
		{"null attributes", `{"v":1,"corp_num":"A1","credentials":[{"hash":"h","schema":"s","attributes":null}]}`, true},
		{"attributes an array", `{"v":1,"corp_num":"A1","credentials":[{"hash":"h","schema":"s","attributes":[1]}]}`, false},
		{"attributes a string", `{"v":1,"corp_num":"A1","credentials":[{"hash":"h","schema":"s","attributes":"x"}]}`, false},
		{"no hash", `{"v":1,"corp_num":"A1","credentials":[{"schema":"s","attributes":{}}]}`, false},
		{"no corp_num", `{"v":1,"credentials":[{"hash":"h","schema":"s"}]}`, false},
		{"unknown version", `{"v":2,"corp_num":"A1"}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRawBundle([]byte(tc.data))
			_, mapErr := DecodeBundle([]byte(tc.data))
			if (err == nil) != tc.ok || (mapErr == nil) != tc.ok {
				t.Errorf("raw err = %v, map err = %v, want ok %v", err, mapErr, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrUndecodable) {
				t.Errorf("err = %v, want ErrUndecodable", err)
			}
		})
	}
}
