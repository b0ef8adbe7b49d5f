package canonical_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/credential/canonical"
)

// The expected texts below were produced by CPython's
// json.dumps(value, sort_keys=True).
func TestMarshal(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"empty object", canonical.Object{}, `{}`},
		{"empty list", []any{}, `[]`},
		{"nil list is an empty list", []any(nil), `[]`},
		{"null true false", []any{nil, true, false}, `[null, true, false]`},
		{"keys sorted by code point", canonical.Object{"b": 1, "a": 2, "B": 3, "": 4, "aa": 5}, `{"": 4, "B": 3, "a": 2, "aa": 5, "b": 1}`},
		{"nested objects sorted", canonical.Object{"z": map[string]any{"y": 1, "x": []any{map[string]any{"b": nil, "a": "A"}}}, "a": []string{}},
			`{"a": [], "z": {"x": [{"a": "A", "b": null}], "y": 1}}`},
		{"non-ASCII keys sort after ASCII", canonical.Object{"é": 1, "z": 2, "😀": 3, "\uffff": 4, "Z": 5},
			`{"Z": 5, "z": 2, "\u00e9": 1, "\uffff": 4, "\ud83d\ude00": 3}`},
		{"map of strings", map[string]string{"b": "x", "a": "y"}, `{"a": "y", "b": "x"}`},
		{"credential shape", canonical.Object{"registration_id": "BC0191294", "entity_name": "ZBCE", "registered_jurisdiction": "", "expiry_date": nil},
			`{"entity_name": "ZBCE", "expiry_date": null, "registered_jurisdiction": "", "registration_id": "BC0191294"}`},

		{"non-ASCII name", "Café Ünïcode", `"Caf\u00e9 \u00dcn\u00efcode"`},
		{"emoji as surrogate pair", "smile 😀", `"smile \ud83d\ude00"`},
		{"control characters and DEL", "\x00\x01\x1f\x7f", `"\u0000\u0001\u001f\u007f"`},
		{"short escapes", "\"\\\b\f\n\r\t", `"\"\\\b\f\n\r\t"`},
		{"slash and HTML characters as-is", "a/b</script>&", `"a/b</script>&"`},
		{"BMP edge characters", "\u2028\ufeff\uffff", `"\u2028\ufeff\uffff"`},
		{"replacement character is a character", "\ufffd", `"\ufffd"`},

		{"integers", []any{0, -1, int64(math.MinInt64), uint64(math.MaxUint64), int8(-8), uint16(16)},
			`[0, -1, -9223372036854775808, 18446744073709551615, -8, 16]`},
		{"json.Number integers", []any{json.Number("0"), json.Number("-0"), json.Number("12345678901234567890123")},
			`[0, 0, 12345678901234567890123]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := canonical.Marshal(tt.in)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Marshal mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarshalRejects(t *testing.T) {
	loop := map[string]any{}
	loop["self"] = loop
	tests := []struct {
		name string
		in   any
	}{
		{"float", 1.5},
		{"float in object", canonical.Object{"a": []any{float32(1)}}},
		{"json.Number fraction", json.Number("1.0")},
		{"json.Number exponent", json.Number("1e3")},
		{"json.Number leading zero", json.Number("007")},
		{"json.Number plus sign", json.Number("+1")},
		{"json.Number empty", json.Number("")},
		{"struct", struct{ A string }{"x"}},
		{"pointer", new(string)},
		{"map with int keys", map[int]string{1: "a"}},
		{"invalid UTF-8 value", "\xff"},
		{"invalid UTF-8 key", canonical.Object{"\xff": 1}},
		{"circular", loop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := canonical.Marshal(tt.in)
			if !errors.Is(err, canonical.ErrUnsupported) {
				t.Errorf("Marshal = %q, %v; want ErrUnsupported", got, err)
			}
		})
	}
}

func TestHash(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"empty", ``, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"escaped text", `{"a": "Caf\u00e9"}`, "bf6b507c9b1cf95ee1e43314d2d54eedc6674cadac12bb94d4cb5fd20226d884"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, canonical.Hash([]byte(tt.text))); diff != "" {
				t.Errorf("Hash mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMarshalErrorPath checks that an unsupported value is named by its
// path (built only when it fails), and that the reused buffers of a failed
// call do not leak into the next one.
func TestMarshalErrorPath(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"top level", 1.5, "canonical: $: unsupported value: float64"},
		{"in a list in an object", canonical.Object{"b": 1, "a": []any{"x", float32(1)}}, "canonical: $.a[1]: unsupported value: float32"},
		{"nested objects", map[string]any{"a": map[string]any{"z": "ok", "k": json.Number("1.0")}},
			`canonical: $.a.k: unsupported value: number "1.0" is not a JSON integer`},
		{"key", canonical.Object{"\xff": 1}, "canonical: $.\xff: unsupported value: string is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := canonical.Marshal(tt.in)
			if err == nil {
				t.Fatal("Marshal succeeded; want an error")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			got, err := canonical.Marshal(canonical.Object{"b": []string{"y"}, "a": "x"})
			if err != nil || string(got) != `{"a": "x", "b": ["y"]}` {
				t.Errorf("Marshal after the error = %q, %v", got, err)
			}
		})
	}
}

// TestMarshalHashed checks that MarshalHashed gives Marshal's text and its
// Hash.
func TestMarshalHashed(t *testing.T) {
	in := canonical.Object{"entity_name": "CAFÉ \"X\" \U0001F600", "n": 3, "l": []any{nil, true}}
	want, err := canonical.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	text, hash, err := canonical.MarshalHashed(in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), text); diff != "" {
		t.Errorf("text mismatch (-Marshal +MarshalHashed):\n%s", diff)
	}
	if diff := cmp.Diff(canonical.Hash(want), hash); diff != "" {
		t.Errorf("hash mismatch (-want +got):\n%s", diff)
	}
}
