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
	"github.com/google/go-cmp/cmp"
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

// TestComposeStartOrder: the start order rests on healthchecks that mean
// what they say. PostgreSQL's is over TCP (without -h, pg_isready asks the
// Unix socket, ready while the init scripts still run with TCP closed);
// NATS's asks for JetStream; migrate waits for both to be healthy, every
// service for migrate to have finished.
func TestComposeStartOrder(t *testing.T) {
	p := loadCompose(t)
	for _, tc := range []struct {
		service string
		want    []string // in the healthcheck's command, in order
	}{
		{"postgres", []string{"pg_isready", "-h", "127.0.0.1"}},
		{"nats", []string{"http://127.0.0.1:8222/healthz?js-enabled-only=true"}},
	} {
		hc := p.Services[tc.service].HealthCheck
		if hc == nil || hc.Disable {
			t.Errorf("%s: no healthcheck", tc.service)
			continue
		}
		if got := strings.Join(hc.Test, " "); !strings.Contains(got, strings.Join(tc.want, " ")) {
			t.Errorf("%s healthcheck %q, want it to contain %q", tc.service, got, strings.Join(tc.want, " "))
		}
	}
	type dep struct{ Service, Condition string }
	for _, tc := range []struct {
		service string
		want    []dep
	}{
		{"migrate", []dep{{"nats", types.ServiceConditionHealthy}, {"postgres", types.ServiceConditionHealthy}}},
		{"event-poller", []dep{{"migrate", types.ServiceConditionCompletedSuccessfully}}},
		{"credential-builder", []dep{{"migrate", types.ServiceConditionCompletedSuccessfully}}},
		{"poster", []dep{{"migrate", types.ServiceConditionCompletedSuccessfully}, {"vonx-sim", types.ServiceConditionStarted}}},
		{"console", []dep{{"migrate", types.ServiceConditionCompletedSuccessfully}}},
		{"natscli", []dep{{"nats", types.ServiceConditionHealthy}}},
	} {
		var got []dep
		for name, d := range p.Services[tc.service].DependsOn {
			got = append(got, dep{name, d.Condition})
		}
		sort.Slice(got, func(i, j int) bool { return got[i].Service < got[j].Service })
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s depends_on (-want +got):\n%s", tc.service, diff)
		}
	}
}
