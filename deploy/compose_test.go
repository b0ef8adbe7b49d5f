package deploy

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// needs lists, per service, the variables whose defaults point at localhost
// and so must be set inside a container, plus the side port's address
// (the default :8080 would do, but the file sets it explicitly).
var needs = map[string][]string{
	"event-poller":       {"BCREG_NATS_URL", "BCREG_EVENT_DB_URL", "BCREG_SOURCE_DB_URL"},
	"credential-builder": {"BCREG_NATS_URL", "BCREG_EVENT_DB_URL", "BCREG_SOURCE_DB_URL", "BCREG_PROFILE"},
	"poster":             {"BCREG_NATS_URL", "BCREG_EVENT_DB_URL", "BCREG_AGENT_URL"},
	"migrate":            {"BCREG_NATS_URL", "BCREG_EVENT_DB_URL"},
	"vonx-sim":           {"BCREG_SIM_ADDR"},
	"console":            {"BCREG_NATS_URL", "BCREG_EVENT_DB_URL", "BCREG_CONSOLE_ADDR", "BCREG_HTTP_ADDR"},
}

func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"},
		cli.WithWorkingDirectory(".."), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	return p
}

func TestComposeFile(t *testing.T) {
	p := loadCompose(t)
	want := []string{"console", "credential-builder", "event-poller", "migrate", "nats", "natscli", "poster", "postgres", "vonx-sim"}
	got := p.ServiceNames()
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("services = %v, want %v", got, want)
	}
	for name, svc := range p.Services {
		t.Run(name, func(t *testing.T) {
			if svc.Build != nil {
				if _, err := os.Stat(svc.Build.Context); err != nil {
					t.Errorf("build context %s: %v", svc.Build.Context, err)
				}
				df := svc.Build.Dockerfile
				if !filepath.IsAbs(df) {
					df = filepath.Join(svc.Build.Context, df)
				}
				if _, err := os.Stat(df); err != nil {
					t.Errorf("Dockerfile %s: %v", df, err)
				}
			} else if svc.Image == "" || strings.HasSuffix(svc.Image, ":latest") || !strings.Contains(svc.Image, ":") {
				t.Errorf("image %q: pin a version", svc.Image)
			}
			for _, v := range needs[name] {
				if val, ok := svc.Environment[v]; !ok || val == nil || *val == "" {
					t.Errorf("%s not set", v)
				}
			}
			for _, v := range svc.Volumes {
				if v.Type == types.VolumeTypeBind {
					if _, err := os.Stat(v.Source); err != nil {
						t.Errorf("bind mount source %s: %v", v.Source, err)
					}
				}
			}
		})
	}
	for _, name := range []string{"credential-builder", "poster"} {
		if d := p.Services[name].Deploy; d == nil || d.Replicas == nil || *d.Replicas != 2 {
			t.Errorf("%s: want 2 replicas", name)
		}
	}
}

func TestComposeHostPortsDoNotCollide(t *testing.T) {
	p := loadCompose(t)
	seen := map[string]string{}
	for name, svc := range p.Services {
		for _, port := range svc.Ports {
			if port.Published == "" {
				continue
			}
			key := port.HostIP + ":" + port.Published + "/" + port.Protocol
			if other, ok := seen[key]; ok {
				t.Errorf("host port %s used by %s and %s", key, other, name)
			}
			seen[key] = name
			if d := svc.Deploy; d != nil && d.Replicas != nil && *d.Replicas > 1 {
				t.Errorf("%s publishes host port %s but runs %d replicas", name, port.Published, *d.Replicas)
			}
		}
	}
	if _, ok := seen[":8222/tcp"]; !ok {
		t.Error("NATS monitoring port 8222 not published")
	}
}
