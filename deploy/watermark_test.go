package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// watermarkRead matches SQL that reads the event database's last_event
// table.
var watermarkRead = regexp.MustCompile(`(?i)\bFROM\s+last_event\b`)

// TestOneWatermarkDefinition: the watermark is read in one place,
// discovery.CurrentWatermark (pkg/eventdb/discovery/watermark.go), and
// every reader (the poller, status, the console, the alerts, the operator
// commands) calls it, so none can show another event or date than the
// poller continues from (issue 22 §2: a status that showed the highest
// event id with the newest row's date).
func TestOneWatermarkDefinition(t *testing.T) {
	files, err := trackedFiles()
	if err != nil {
		t.Fatal(err)
	}
	const owner = "pkg/eventdb/discovery/watermark.go"
	found := false
	for _, f := range files {
		if !strings.HasSuffix(f, ".go") || strings.HasSuffix(f, "_test.go") || strings.HasPrefix(f, "deploy/") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		if !watermarkRead.Match(b) {
			continue
		}
		if f == owner {
			found = true
			continue
		}
		t.Errorf("%s reads last_event itself: read the watermark with discovery.CurrentWatermark", f)
	}
	if !found {
		t.Errorf("%s no longer reads last_event: update this test to where the watermark is read", owner)
	}
}
