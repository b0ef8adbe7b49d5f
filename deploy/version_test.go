package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ourImage matches an image of this project with its tag, in a manifest's
// image: field or a kustomization's newTag after its name.
var (
	ourImage    = regexp.MustCompile(`ghcr\.io/bcgov/bcreg-events/([a-z-]+):(\S+)`)
	kustomTag   = regexp.MustCompile(`(?m)^\s*-?\s*name: ghcr\.io/bcgov/bcreg-events/([a-z-]+)\s*\n(?:\s+new\w+:.*\n)*?\s+newTag:\s*"?([^"\s]+)`)
	buildinfoX  = []string{"github.com/bcgov/bcreg-events/pkg/buildinfo", ".Version=", ".Commit=", ".Date="}
	dockerfiles = []string{"event-poller", "credential-builder", "poster", "bcregctl", "vonx-sim"}
)

// TestVersionIsOne: the release version is stated once, in VERSION; the
// image tags of every manifest and overlay equal it, the Makefile and
// every Dockerfile link it (and the commit and date) into the binaries.
func TestVersionIsOne(t *testing.T) {
	raw, err := os.ReadFile("../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(raw))
	if !regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`).MatchString(want) {
		t.Fatalf("VERSION %q: want a semantic version", want)
	}
	var tags int
	err = filepath.WalkDir("k8s", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range ourImage.FindAllStringSubmatch(string(text), -1) {
			tags++
			if m[2] != want {
				t.Errorf("%s: image %s:%s, VERSION says %s", path, m[1], m[2], want)
			}
		}
		for _, m := range kustomTag.FindAllStringSubmatch(string(text), -1) {
			tags++
			if m[2] != want {
				t.Errorf("%s: newTag %s for %s, VERSION says %s", path, m[2], m[1], want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if tags < 10 {
		t.Errorf("found only %d image tags in deploy/k8s: the patterns no longer match the manifests", tags)
	}

	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	makefile := string(mk)
	for _, w := range append([]string{"VERSION   := $(shell cat VERSION)"}, buildinfoX...) {
		if !strings.Contains(makefile, w) {
			t.Errorf("Makefile: %q missing", w)
		}
	}
	if n := strings.Count(makefile, "build -trimpath -ldflags '$(LDFLAGS)'"); n != 2 {
		t.Errorf("Makefile: %d builds link $(LDFLAGS), want 2 (the services and bcreg-dev)", n)
	}
	for _, svc := range dockerfiles {
		df, err := os.ReadFile(filepath.Join("..", "services", svc, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range append([]string{"COPY VERSION ./", "$(cat /src/VERSION)", "--mount=type=cache,target=/go/pkg/mod", "go mod download"}, buildinfoX...) {
			if !strings.Contains(string(df), w) {
				t.Errorf("services/%s/Dockerfile: %q missing", svc, w)
			}
		}
	}
}

// TestComposeBuildsCarryTheCommit: every image compose builds gets the
// commit and date as build arguments.
func TestComposeBuildsCarryTheCommit(t *testing.T) {
	p := loadCompose(t)
	for name, svc := range p.Services {
		if svc.Build == nil {
			continue
		}
		for _, arg := range []string{"BCREG_COMMIT", "BCREG_DATE"} {
			if _, ok := svc.Build.Args[arg]; !ok {
				t.Errorf("%s: build argument %s missing", name, arg)
			}
		}
	}
}

// TestDockerIgnore: the images' build context leaves out the data and the
// binaries (hundreds of MB) and keeps what the Dockerfiles copy.
func TestDockerIgnore(t *testing.T) {
	raw, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(raw), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, w := range []string{".data", "bin", ".git"} {
		if !lines[w] {
			t.Errorf(".dockerignore: %s not ignored", w)
		}
	}
	for _, keep := range []string{"VERSION", "pkg", "services"} {
		if lines[keep] || lines["/"+keep] {
			t.Errorf(".dockerignore: %s is ignored but the Dockerfiles copy it", keep)
		}
	}
}
