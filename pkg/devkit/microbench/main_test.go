// Package microbench_test holds the micro-benchmarks that read a synthetic
// registry (pkg/devkit/synth) from a real PostgreSQL: the source loader and
// credential generation at scale. They live in the dev kit so that pkg's own
// tests need only the test kit. `make bench-micro` runs them.
package microbench_test

import (
	"os"
	"testing"

	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
