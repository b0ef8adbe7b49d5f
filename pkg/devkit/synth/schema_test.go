package synth

import "testing"

// TestCorpNum checks the number format: prefix, 9, eight digits.
func TestCorpNum(t *testing.T) {
	tests := []struct {
		name string
		typ  corpType
		i    int
		want string
	}{
		{"BC company", corpType{code: "BC"}, 0, "900000000"},
		{"firm", corpType{code: "SP", prefix: "FM"}, 1234, "FM900001234"},
		{"continued in", corpType{code: "C", prefix: "C"}, 99_999_999, "C999999999"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := corpNum(&tc.typ, tc.i); got != tc.want {
				t.Errorf("corpNum = %q, want %q", got, tc.want)
			}
		})
	}
}
