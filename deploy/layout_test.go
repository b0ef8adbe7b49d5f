package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// productionModules are the modules whose binaries run in production
// (docs/design/layout.md): their go.mod must carry no workshop.
var productionModules = []string{
	"pkg",
	"services/event-poller",
	"services/credential-builder",
	"services/poster",
	"services/bcregctl",
}

// workshop are the module paths a production go.mod must not require: the
// embedded NATS server and testcontainers (test environments), and the
// project's own test and development kits.
var workshop = regexp.MustCompile(`(?m)^\s*(?:require\s+)?(github\.com/nats-io/nats-server/v2|github\.com/testcontainers/testcontainers-go\S*|github\.com/bcgov/bcreg-events/pkg/(?:devkit|testkit))\s+v`)

// TestProductionModulesCarryNoWorkshop: the production binaries and their
// go.mod files carry none of the test or development kit; tests that need
// the kits live in test-only modules (pkg/test, services/<svc>/test), so
// not even the module graph of a production module holds nats-server or
// testcontainers.
func TestProductionModulesCarryNoWorkshop(t *testing.T) {
	for _, m := range productionModules {
		t.Run(m, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(repoRoot, m, "go.mod"))
			if err != nil {
				t.Fatal(err)
			}
			var found []string
			for _, sm := range workshop.FindAllStringSubmatch(string(b), -1) {
				found = append(found, sm[1])
			}
			sort.Strings(found)
			if len(found) > 0 {
				t.Errorf("%s/go.mod requires %s; move the tests that need them to the module's test-only module (docs/design/layout.md)", m, strings.Join(found, ", "))
			}
		})
	}
}
