package agentsim

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPyDumps checks the writer against what CPython's json.dumps prints.
func TestPyDumps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		v     any
		style pyStyle
		want  string
	}{
		{"aiohttp_row", pyObj{{"success", true}, {"result", "abc"}}, aiohttpJSON, `{"success": true, "result": "abc"}`},
		{"aiohttp_rows", []pyObj{{{"success", false}, {"result", "x"}}, {{"success", true}, {"result", "y"}}}, aiohttpJSON,
			`[{"success": false, "result": "x"}, {"success": true, "result": "y"}]`},
		{"empty_list", []pyObj{}, aiohttpJSON, `[]`},
		{"flask_sorted_compact", []pyObj{{{"success", true}, {"result", "t"}}}, flaskJSON, `[{"result":"t","success":true}]`},
		{"ensure_ascii", "Café ünd 😀", aiohttpJSON, `"Caf\u00e9 \u00fcnd \ud83d\ude00"`},
		{"escapes", "a\"b\\c\nd\te\x01\x7f<&>", aiohttpJSON, `"a\"b\\c\nd\te\u0001\u007f<&>"`},
		{"null_and_numbers", []any{nil, 3, int64(-4), 0.0, 1.5, 1e-05, 1e16, 123456.0}, aiohttpJSON,
			`[null, 3, -4, 0.0, 1.5, 1e-05, 1e+16, 123456.0]`},
		{"nested_empty_objects", pyObj{{"avg", pyObj{}}}, aiohttpJSON, `{"avg": {}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, string(pyDumps(tc.v, tc.style))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPyFalsy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"null", true}, {"false", true}, {"0", true}, {"-0.0", true}, {"0e5", true}, {`""`, true},
		{"[]", true}, {"{ }", true}, {"[ ]", true},
		{"true", false}, {"1", false}, {`"0"`, false}, {"[0]", false}, {`{"a":1}`, false},
	} {
		if got := pyFalsy([]byte(tc.in)); got != tc.want {
			t.Errorf("pyFalsy(%s) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
