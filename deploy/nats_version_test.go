package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// natsVersionSource is where the NATS server version is stated: the
// nats-server module the test kit embeds (docs/design/nats-version.md).
const natsVersionSource = "../pkg/testkit/go.mod"

var natsServerRequire = regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/nats-io/nats-server/v2\s+v(\S+)`)

// natsServerVersion is the nats-server version a go.mod requires ("" if
// none).
func natsServerVersion(t *testing.T, goMod string) string {
	t.Helper()
	raw, err := os.ReadFile(goMod)
	if err != nil {
		t.Fatal(err)
	}
	m := natsServerRequire.FindSubmatch(raw)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// TestNATSServerVersionIsOne: production (the Helm values of every
// overlay), docker compose and the tests (every module that builds the
// embedded server: the test kit, the dev kit's `make run` and bench, the
// services' test modules) run the same NATS server version, so what the
// cluster tests prove holds for what runs.
func TestNATSServerVersionIsOne(t *testing.T) {
	want := natsServerVersion(t, natsVersionSource)
	if want == "" {
		t.Fatalf("%s requires no nats-server", natsVersionSource)
	}
	modules, err := filepath.Glob("../*/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("../*/*/go.mod")
	modules = append(modules, more...)
	more, _ = filepath.Glob("../*/*/*/go.mod")
	modules = append(modules, more...)
	for _, m := range modules {
		if v := natsServerVersion(t, m); v != "" && v != want {
			t.Errorf("%s requires nats-server v%s, %s v%s", m, v, natsVersionSource, want)
		}
	}

	files, err := filepath.Glob(filepath.Join("nats", "values-*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no NATS values files: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v natsValues
		if err := yaml.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if got := strings.TrimSuffix(v.Container.Image.Tag, "-alpine"); got != want {
			t.Errorf("%s: container.image.tag %q runs NATS %s; the tests run %s (%s)", f, v.Container.Image.Tag, got, want, natsVersionSource)
		}
	}

	compose, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	img := regexp.MustCompile(`(?m)^\s*image:\s*nats:(\S+)`).FindSubmatch(compose)
	if img == nil {
		t.Fatal("docker-compose.yml: no nats image")
	}
	if got := strings.TrimSuffix(string(img[1]), "-alpine"); got != want {
		t.Errorf("docker-compose.yml: image nats:%s, the tests run %s", img[1], want)
	}

	doc, err := os.ReadFile("../docs/design/nats-version.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "**"+want+"**") {
		t.Errorf("docs/design/nats-version.md does not state **%s**", want)
	}
}
