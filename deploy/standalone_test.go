package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the repository root as seen from this package's directory.
const repoRoot = ".."

// outsideRefs are references to files that were never part of the
// repository: the reference tree that stood beside the first checkouts
// (its spec and fixture folders) and the names of the specs in it. Built
// from parts so this file does not match itself. A spec name is allowed
// once the repository holds a file of that name.
var (
	outsidePaths = []string{"../" + "shared", "shared" + "/spec", "shared" + "/fixtures", "/work" + "/shared"}
	outsideNames = []string{"architecture", "domain", "agent-api", "jetstream", "orgbook", "style-anchors"}
)

// trackedFiles returns the repository's files, relative to the root with
// slashes: in a git checkout the tracked ones and the new ones not ignored
// (so a file is checked before it is committed), else every file but git's
// own, build output and local data.
func trackedFiles() ([]string, error) {
	if out, err := exec.Command("git", "-C", repoRoot, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output(); err == nil && len(out) > 0 {
		var files []string
		for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			if _, err := os.Lstat(filepath.Join(repoRoot, f)); err == nil { // deleted, not yet committed
				files = append(files, f)
			}
		}
		return files, nil
	}
	var files []string
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		if d.IsDir() {
			switch rel {
			case ".git", ".data", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	return files, err
}

// readTextFiles reads the tracked files that are text (no NUL byte), with
// their contents, once for every test of the package.
var readTextFiles = sync.OnceValues(func() (map[string]string, error) {
	tracked, err := trackedFiles()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, f := range tracked {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		if bytes.IndexByte(b, 0) >= 0 {
			continue
		}
		out[f] = string(b)
	}
	return out, nil
})

// textFiles returns the tracked text files and their contents (shared by
// the tests: read only).
func textFiles(t *testing.T) map[string]string {
	t.Helper()
	files, err := readTextFiles()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// lineOf returns the 1-based line of offset i in s.
func lineOf(s string, i int) int { return strings.Count(s[:i], "\n") + 1 }

// TestNoReferenceOutsideRepository: a clone alone must be complete. No file
// may point at the reference tree that once stood beside the repository,
// or cite a spec the repository does not hold; comments and documents cite
// docs/design/ instead.
func TestNoReferenceOutsideRepository(t *testing.T) {
	t.Parallel()
	files := textFiles(t)
	held := map[string]bool{}
	for f := range files {
		held[path.Base(f)] = true
	}
	var names []string
	for _, n := range outsideNames {
		if !held[n+".md"] {
			names = append(names, regexp.QuoteMeta(n+".md"))
		}
	}
	quoted := make([]string, len(outsidePaths))
	for i, p := range outsidePaths {
		quoted[i] = regexp.QuoteMeta(p)
	}
	// A spec name counts as a file name only where it is not part of a
	// longer one (docs/design/agent.md is ours; an "agent-api" file is not).
	forbidden := regexp.MustCompile(strings.Join(quoted, "|") + `|(?:^|[^A-Za-z0-9_./-])(?:` + strings.Join(names, "|") + `)`)
	var bad []string
	for f, s := range files {
		for _, m := range forbidden.FindAllStringIndex(s, -1) {
			bad = append(bad, fmt.Sprintf("%s:%d: %q", f, lineOf(s, m[0]), strings.TrimSpace(s[m[0]:m[1]])))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("%d references outside the repository (cite docs/design/ instead):\n%s", len(bad), strings.Join(bad, "\n"))
	}
}

var (
	// mdLink is a Markdown link's target: [text](target).
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// docCite is a document cited by repository path, as comments do.
	docCite = regexp.MustCompile(`(?:^|[^A-Za-z0-9_./-])((?:docs|pkg|deploy|services)/[A-Za-z0-9_./-]*\.md)\b`)
	// goUp and goJoinUp find file paths in Go that climb directories: a
	// literal starting with "../" that is opened or joined, or a join whose
	// leading parts are "..". (Other strings may hold relative paths of
	// something else, e.g. kustomize's.)
	goUp     = regexp.MustCompile(`(?:filepath\.Join|os\.(?:ReadFile|Open|Stat|ReadDir|DirFS))\(\s*"((?:\.\./)+)[^"]*"`)
	goJoinUp = regexp.MustCompile(`filepath\.Join\(((?:"\.\."\s*,\s*)+)`)
)

// inside reports whether p, relative to the repository root, stays in it.
func inside(p string) bool {
	c := path.Clean(p)
	return c != ".." && !strings.HasPrefix(c, "../") && !path.IsAbs(c)
}

// TestLinksStayInRepository: every Markdown link and every document cited
// by path names a file the repository holds, and no Go code climbs above
// the repository root (a test that reads above it fails on a clone alone).
func TestLinksStayInRepository(t *testing.T) {
	t.Parallel()
	files := textFiles(t)
	exists := func(p string) bool {
		_, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(p)))
		return err == nil
	}
	var bad []string
	for f, s := range files {
		dir := path.Dir(f)
		if strings.HasSuffix(f, ".md") {
			for _, m := range mdLink.FindAllStringSubmatchIndex(s, -1) {
				target := s[m[2]:m[3]]
				if i := strings.IndexByte(target, '#'); i >= 0 {
					target = target[:i]
				}
				if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				p := path.Join(dir, target)
				if !inside(p) || !exists(p) {
					bad = append(bad, fmt.Sprintf("%s:%d: link %q names no file of the repository", f, lineOf(s, m[0]), s[m[2]:m[3]]))
				}
			}
		}
		for _, m := range docCite.FindAllStringSubmatchIndex(s, -1) {
			if p := s[m[2]:m[3]]; !exists(p) {
				bad = append(bad, fmt.Sprintf("%s:%d: cites %s, which does not exist", f, lineOf(s, m[2]), p))
			}
		}
		if strings.HasSuffix(f, ".go") {
			depth := 0
			if dir != "." {
				depth = strings.Count(dir, "/") + 1
			}
			for _, m := range goUp.FindAllStringSubmatchIndex(s, -1) {
				if up := strings.Count(s[m[2]:m[3]], "../"); up > depth {
					bad = append(bad, fmt.Sprintf("%s:%d: %s climbs above the repository root", f, lineOf(s, m[0]), s[m[0]:m[1]]))
				}
			}
			for _, m := range goJoinUp.FindAllStringSubmatchIndex(s, -1) {
				if up := strings.Count(s[m[2]:m[3]], `".."`); up > depth {
					bad = append(bad, fmt.Sprintf("%s:%d: %s climbs above the repository root", f, lineOf(s, m[0]), s[m[0]:m[1]]))
				}
			}
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("%d paths that leave the repository or name nothing:\n%s", len(bad), strings.Join(bad, "\n"))
	}
}
