package canonical_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/credential/canonical"
	"github.com/bcgov/bcreg-events/pkg/testkit/fixture"
)

// TestOracle re-encodes every credential the original Python code stored
// (fixture group → corp_num → credentials) and checks text and hash.
func TestOracle(t *testing.T) {
	tests := []struct {
		file string
		want int // credentials in the file (pkg/testkit/fixture/README.md)
	}{
		{"dev_expected_8bc273a.json", 104},
		{"dev_expected_history.json", 174},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := fixture.Expected(tt.file)
			if err != nil {
				t.Fatalf("read oracle: %v", err)
			}
			var groups map[string]map[string]struct {
				Credentials []struct {
					CredentialID string `json:"credential_id"`
					JSON         string `json:"credential_json"`
					Hash         string `json:"credential_hash"`
				} `json:"credentials"`
			}
			if err := json.Unmarshal(raw, &groups); err != nil {
				t.Fatal(err)
			}
			n := 0
			for group, corps := range groups {
				for corp, out := range corps {
					for _, c := range out.Credentials {
						n++
						where := group + "/" + corp + "/" + c.CredentialID
						dec := json.NewDecoder(strings.NewReader(c.JSON))
						dec.UseNumber()
						var v any
						if err := dec.Decode(&v); err != nil {
							t.Fatalf("%s: decode: %v", where, err)
						}
						got, err := canonical.Marshal(v)
						if err != nil {
							t.Errorf("%s: Marshal: %v", where, err)
							continue
						}
						if diff := cmp.Diff(c.JSON, string(got)); diff != "" {
							t.Errorf("%s: text mismatch (-want +got):\n%s", where, diff)
						}
						if diff := cmp.Diff(c.Hash, canonical.Hash([]byte(c.JSON))); diff != "" {
							t.Errorf("%s: hash mismatch (-want +got):\n%s", where, diff)
						}
					}
				}
			}
			if n != tt.want {
				t.Errorf("checked %d credentials, want %d", n, tt.want)
			}
			t.Logf("checked %d credentials", n)
		})
	}
}
