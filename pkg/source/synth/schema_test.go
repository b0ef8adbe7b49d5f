package synth

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bcgov/bcreg-events/pkg/source/sourcetest"
)

// TestCodeTablesCopy keeps the embedded code tables equal to the shared
// fixture's, so that synthetic and fixture databases decode alike.
func TestCodeTablesCopy(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(sourcetest.Dir(t), "code_tables.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if codeTablesSQL != string(want) {
		t.Error("code_tables.sql differs from shared/fixtures/bcreg/code_tables.sql: copy it again")
	}
}

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
