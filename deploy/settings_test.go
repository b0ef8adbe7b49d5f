package deploy

import (
	"os"
	"path/filepath"
	"regexp"
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

// TestSettingsTableMatchesCode: the README's configuration table names
// exactly the BCREG_ variables the programs read (envconfig tags, and the
// few read directly with os.Getenv or os.LookupEnv), except the
// simulator's BCREG_SIM_*, which docs/vonx-sim.md lists; a row for a
// setting no program reads any more fails as a missing row does.
func TestSettingsTableMatchesCode(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	table := settingsTable(t, string(readme))
	code := map[string]bool{}
	for name := range knownSettings(t) {
		code[name] = true
	}
	for name := range directSettings(t) {
		code[name] = true
	}
	for _, name := range sortedKeys(code) {
		if !table[name] && !strings.HasPrefix(name, "BCREG_SIM_") {
			t.Errorf("%s is read by a program but has no row in README's configuration table", name)
		}
	}
	for _, name := range sortedKeys(table) {
		if !code[name] {
			t.Errorf("README's configuration table lists %s, which no program reads", name)
		}
	}
}

// settingsTable returns the variables named in the first column of the
// README's "## Configuration" table.
func settingsTable(t *testing.T, readme string) map[string]bool {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## Configuration\n")
	if !ok {
		t.Fatal("README.md has no ## Configuration section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	name := regexp.MustCompile("`(BCREG_[A-Z0-9_]+)`")
	names := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(line, "|"), "|")
		for _, m := range name.FindAllStringSubmatch(first, -1) {
			names[m[1]] = true
		}
	}
	if len(names) == 0 {
		t.Fatal("README's configuration table names no BCREG_ variable")
	}
	return names
}

// directSettings are the BCREG_ variables read with os.Getenv or
// os.LookupEnv (outside envconfig) by non-test code.
func directSettings(t *testing.T) map[string]bool {
	t.Helper()
	read := regexp.MustCompile(`(?:Getenv|LookupEnv|envSet)\("(BCREG_[A-Z0-9_]+)"\)`)
	names := map[string]bool{}
	if err := eachProgramSource(func(src []byte) {
		for _, m := range read.FindAllSubmatch(src, -1) {
			names[string(m[1])] = true
		}
	}); err != nil {
		t.Fatal(err)
	}
	return names
}

// eachProgramSource calls fn with each non-test Go file of ../pkg and
// ../services.
func eachProgramSource(fn func(src []byte)) error {
	for _, root := range []string{"../pkg", "../services"} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fn(src)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
