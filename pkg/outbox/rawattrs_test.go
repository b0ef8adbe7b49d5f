package outbox

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/credential/canonical"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
)

// encodeBoth encodes a bundle of rows once through credential (the stored
// text as it is, where it may) and once through parsedCredential (the
// text parsed into a map and re-encoded, the way bundles were always
// made), and says whether credential took the stored text.
func encodeBoth(t *testing.T, rows []outboxdb.Row) (fast, parsed []byte, raw int) {
	t.Helper()
	var fc, pc []messages.Credential
	for _, r := range rows {
		c, err := credential(r)
		if err != nil {
			t.Fatalf("credential %q: %v", r.JSON, err)
		}
		if c.RawAttributes != nil {
			raw++
		}
		p, err := parsedCredential(r)
		if err != nil {
			t.Fatalf("parsedCredential %q: %v", r.JSON, err)
		}
		fc, pc = append(fc, c), append(pc, p)
	}
	enc := func(creds []messages.Credential) []byte {
		b, err := messages.Encode(messages.CredentialBundle{V: messages.Version, System: messages.SystemBCReg,
			CorpNum: "0191294", CorpState: "ACT", Profile: "history", Credentials: creds})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return enc(fc), enc(pc), raw
}

// TestRawAttributesByteIdentical: a bundle made from the stored texts as
// they are is byte for byte the bundle made by parsing them into maps, for
// generated canonical credentials with non-ASCII text, <, >, &, quotes,
// backslashes, control characters, line and paragraph separators, nested
// values, numbers and nulls; every canonical text takes the stored text.
func TestRawAttributesByteIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 2))
	pieces := []string{"CAFÉ", "Ltd.", " ", "<b>", "&", ">", "\"", "\\", "\n", "\t", "\x01", "\u2028", "\u2029",
		"日本", "😀", "\u00e9", "/", "'", "A&W <Canada>", "x", "2019-01-02T11:04:05+00:00", "\uFFFD", "\u007f"}
	text := func() string {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	value := func(depth int) any {
		switch rng.IntN(8) {
		case 0:
			return nil
		case 1:
			return rng.IntN(100000) - 500
		case 2:
			if depth < 2 {
				return []any{text(), nil, rng.IntN(9)}
			}
		case 3:
			if depth < 2 {
				return map[string]any{text(): text(), "b": nil, "a&<": text()}
			}
		}
		return text()
	}
	keys := []string{"entity_name", "entity_status", "registration_id", "reason_description", "expiry_date",
		"a<b", "A&B", "k>", "with space", "Z", "_", "0"}
	// Keys canonical text escapes: their credentials go the parsed way.
	escapedKeys := []string{"\u007f", "café", "日本", "\u2028", "with\"quote", "back\\slash", "tab\t"}
	const n = 3000
	var rows []outboxdb.Row
	for i := range n {
		attrs := canonical.Object{}
		for range 1 + rng.IntN(12) {
			attrs[keys[rng.IntN(len(keys))]] = value(0)
		}
		if rng.IntN(10) == 0 {
			attrs[escapedKeys[rng.IntN(len(escapedKeys))]] = value(0)
		}
		switch rng.IntN(5) {
		case 0: // none
		case 1:
			attrs["effective_date"] = value(0)
		default:
			attrs["effective_date"] = fmt.Sprintf("20%02d-07-29T07:01:00+00:00", i%30) + text()
		}
		js, err := canonical.Marshal(attrs)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, outboxdb.Row{CorpNum: "0191294", Hash: fmt.Sprintf("%064x", i), Type: "REG",
			Schema: "registration.registries.ca", Version: "1.0.42", Reason: "Filing:NOALA", JSON: string(js)})
	}
	rawTotal := 0
	for start := 0; start < len(rows); start += 7 {
		fast, parsed, raw := encodeBoth(t, rows[start:min(start+7, len(rows))])
		rawTotal += raw
		if diff := cmp.Diff(string(parsed), string(fast)); diff != "" {
			t.Fatalf("rows %d..: bundle differs (-parsed +stored text):\n%s", start, diff)
		}
		if raw != min(7, len(rows)-start) && !anyKeyEscaped(rows[start:min(start+7, len(rows))]) {
			t.Errorf("rows %d..: %d of them took the stored text, want all (no escaped keys)", start, raw)
		}
	}
	if rawTotal < n*3/4 {
		t.Errorf("%d of %d credentials took the stored text: the test hardly covers it", rawTotal, n)
	}
	t.Logf("%d of %d credentials took the stored text", rawTotal, n)
}

func anyKeyEscaped(rows []outboxdb.Row) bool {
	for _, r := range rows {
		if _, ok := rawAttributes([]byte(r.JSON)); !ok {
			return true
		}
	}
	return false
}

// TestRawAttributesFallback: texts that would not encode to the same bytes
// as they are go the parsed way, and the bundle is still the one parsing
// gives; the effective date is read as json.Unmarshal reads it.
func TestRawAttributesFallback(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		wantRaw bool
		wantEff string
	}{
		{"canonical", `{"a": "x", "effective_date": "2019-01-02", "z": 1}`, true, "2019-01-02"},
		{"compact", `{"a":"x","effective_date":"2019-01-02"}`, true, "2019-01-02"},
		{"spaces around", " \n{ \"a\" :\t\"x < y & z\" } \n", true, ""},
		{"html in keys and values", `{"<a>": "&", "effective_date": "<>"}`, true, "<>"},
		{"escaped effective date", `{"effective_date": "caf\u00e9 \" \\ \u2028"}`, true, "café \" \\ \u2028"},
		{"non-ASCII effective date", `{"effective_date": "café"}`, true, "café"},
		{"invalid UTF-8 in effective date", "{\"effective_date\": \"a\xffb\"}", true, "a\uFFFDb"},
		{"invalid UTF-8 in a value", "{\"a\": \"a\xffb\"}", true, ""},
		{"numeric effective date", `{"effective_date": 20190102}`, true, ""},
		{"null effective date", `{"effective_date": null}`, true, ""},
		{"object effective date", `{"effective_date": {"effective_date": "x"}}`, true, ""},
		{"nested effective date only", `{"a": {"effective_date": "x"}, "b": ["effective_date", "y"]}`, true, ""},
		{"nested unsorted keys stay", `{"a": {"z": 1, "b": 2}}`, true, ""},
		{"separators in values", "{\"a\": \"\u2028\u2029\"}", true, ""},
		{"unsorted keys", `{"b": "x", "a": "y"}`, false, ""},
		{"duplicate keys", `{"a": "x", "a": "y", "effective_date": "z"}`, false, "z"},
		{"escaped key", `{"caf\u00e9": "x"}`, false, ""},
		{"escaped key sorting differently", `{"\u0062": 1, "a": 2}`, false, ""},
		{"invalid UTF-8 key", "{\"a\xff\": 1}", false, ""},
		{"null", `null`, false, ""},
		{"empty object", `{}`, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eff, ok := rawAttributes([]byte(tc.text))
			if ok != tc.wantRaw {
				t.Errorf("rawAttributes ok = %v, want %v", ok, tc.wantRaw)
			}
			if ok && eff != tc.wantEff {
				t.Errorf("effective date %q, want %q", eff, tc.wantEff)
			}
			row := outboxdb.Row{CorpNum: "0191294", Hash: "h", Schema: "s", JSON: tc.text}
			fast, parsed, _ := encodeBoth(t, []outboxdb.Row{row})
			if diff := cmp.Diff(string(parsed), string(fast)); diff != "" {
				t.Errorf("bundle differs (-parsed +stored text):\n%s", diff)
			}
		})
	}
}
