package deploy

import (
	"os"
	"strings"
	"testing"
)

// TestEverySettingDocumented: each BCREG_ variable a program reads appears
// in the README's configuration table, or for the simulator in
// docs/vonx-sim.md (which the README points to).
func TestEverySettingDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := os.ReadFile("../docs/vonx-sim.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range sortedKeys(knownSettings(t)) {
		doc, where := string(readme), "README.md"
		if strings.HasPrefix(name, "BCREG_SIM_") {
			doc, where = string(sim), "docs/vonx-sim.md"
		}
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("%s is read by a program but not documented in %s", name, where)
		}
	}
}
