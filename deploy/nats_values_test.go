package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// natsValues is the part of the official NATS chart's (1.x) values schema
// that deploy/nats/values-*.yaml use. Decoded strictly: a key this struct
// does not know is a typo the chart would silently ignore.
type natsValues struct {
	Config struct {
		Cluster struct {
			Enabled  bool `json:"enabled"`
			Replicas int  `json:"replicas,omitempty"`
		} `json:"cluster"`
		JetStream struct {
			Enabled   bool `json:"enabled"`
			FileStore struct {
				Enabled bool   `json:"enabled"`
				Dir     string `json:"dir"`
				MaxSize string `json:"maxSize"`
				PVC     struct {
					Enabled          bool   `json:"enabled"`
					Size             string `json:"size"`
					StorageClassName string `json:"storageClassName,omitempty"`
				} `json:"pvc"`
			} `json:"fileStore"`
			MemoryStore struct {
				Enabled bool   `json:"enabled"`
				MaxSize string `json:"maxSize,omitempty"`
			} `json:"memoryStore"`
		} `json:"jetstream"`
		Monitor struct {
			Enabled bool `json:"enabled"`
			Port    int  `json:"port"`
		} `json:"monitor"`
		Merge struct {
			Authorization struct {
				Users []struct {
					User     string `json:"user"`
					Password string `json:"password"`
				} `json:"users"`
			} `json:"authorization"`
		} `json:"merge"`
	} `json:"config"`
	Container struct {
		Image struct {
			Repository string `json:"repository,omitempty"`
			Tag        string `json:"tag"`
		} `json:"image"`
		Env   map[string]chartEnv `json:"env"`
		Merge struct {
			Resources corev1.ResourceRequirements `json:"resources"`
		} `json:"merge"`
	} `json:"container"`
	PromExporter struct {
		Enabled bool `json:"enabled"`
		Port    int  `json:"port"`
		Patch   []struct {
			Op    string   `json:"op"`
			Path  string   `json:"path"`
			Value []string `json:"value"`
		} `json:"patch"`
		PodMonitor struct {
			Enabled bool `json:"enabled"`
		} `json:"podMonitor"`
	} `json:"promExporter"`
	PodTemplate *struct {
		TopologySpreadConstraints map[string]struct {
			MaxSkew           int    `json:"maxSkew"`
			WhenUnsatisfiable string `json:"whenUnsatisfiable"`
		} `json:"topologySpreadConstraints"`
	} `json:"podTemplate,omitempty"`
	PodDisruptionBudget struct {
		Enabled bool `json:"enabled"`
	} `json:"podDisruptionBudget"`
	NatsBox struct {
		Enabled   bool `json:"enabled"`
		Container struct {
			Env map[string]chartEnv `json:"env"`
		} `json:"container"`
	} `json:"natsBox"`
}

// chartEnv is the chart's env map value: a plain string, or {valueFrom: ...}.
type chartEnv struct {
	Value     string
	ValueFrom *corev1.EnvVarSource
}

func (e *chartEnv) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &e.Value)
	}
	var v struct {
		ValueFrom *corev1.EnvVarSource `json:"valueFrom"`
	}
	if err := decodeStrict(b, &v); err != nil {
		return err
	}
	e.ValueFrom = v.ValueFrom
	return nil
}

// Defaults of the stream limits (bus.Topology).
const (
	defaultEventsMaxBytes = 1 << 30
	defaultCredsMaxBytes  = 4 << 30
	defaultDLQMaxBytes    = 1 << 30
)

var chartVar = regexp.MustCompile(`^<<\s*\$([A-Z_][A-Z0-9_]*)\s*>>$`)

// checkNATSValues: the NATS chart values for the overlay's namespace agree
// with the overlay: cluster size and stream replicas, storage and stream
// limits, monitoring for KEDA and the exporter's series names, credentials
// from the bcreg-nats Secret.
func checkNATSValues(t *testing.T, r *rendered, overlay string) {
	path := filepath.Join("nats", "values-"+overlay+".yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("NATS chart values for %s: %v", overlay, err)
	}
	var v natsValues
	if err := yaml.UnmarshalStrict(raw, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	cfg := r.configMap(sharedConfigName(r))
	setting := func(name string, def int64) int64 {
		s, ok := cfg[name]
		if !ok {
			return def
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Errorf("ConfigMap %s=%q: %v", name, s, err)
		}
		return n
	}

	nodes := 1
	if v.Config.Cluster.Enabled {
		nodes = v.Config.Cluster.Replicas
		if nodes < 3 || nodes%2 == 0 {
			t.Errorf("%s: cluster.replicas %d: a JetStream cluster needs an odd number of servers, at least 3", path, nodes)
		}
		if !v.PodDisruptionBudget.Enabled {
			t.Errorf("%s: a cluster needs its PodDisruptionBudget (one server down at a time)", path)
		}
	}
	replicas := setting("BCREG_JS_REPLICAS", 1)
	if replicas > int64(nodes) {
		t.Errorf("BCREG_JS_REPLICAS=%d but %s runs %d NATS server(s)", replicas, path, nodes)
	}
	if overlay == "prod" && (nodes != 3 || replicas != 3) {
		t.Errorf("prod: want a 3-node cluster with BCREG_JS_REPLICAS=3, got %d nodes and %d", nodes, replicas)
	}

	js := v.Config.JetStream
	if !js.Enabled || !js.FileStore.Enabled || !js.FileStore.PVC.Enabled {
		t.Errorf("%s: JetStream with file storage on a persistent volume required", path)
	}
	maxSize := quantity(t, path+" fileStore.maxSize", js.FileStore.MaxSize)
	pvc := quantity(t, path+" fileStore.pvc.size", js.FileStore.PVC.Size)
	if maxSize.Cmp(pvc) > 0 {
		t.Errorf("%s: fileStore.maxSize %s exceeds the volume %s", path, js.FileStore.MaxSize, js.FileStore.PVC.Size)
	}
	// JetStream reserves each stream's MaxBytes on every server that holds
	// a replica; more than max_file_store and the topology cannot be created.
	reserved := setting("BCREG_JS_EVENTS_MAX_BYTES", defaultEventsMaxBytes) + setting("BCREG_JS_CREDS_MAX_BYTES", defaultCredsMaxBytes) +
		setting("BCREG_JS_DLQ_MAX_BYTES", defaultDLQMaxBytes)
	if maxSize.Value() < reserved {
		t.Errorf("%s: fileStore.maxSize %s < %d bytes reserved by BCREG_EVENTS, BCREG_CREDS and BCREG_DLQ", path, js.FileStore.MaxSize, reserved)
	}

	if !v.Config.Monitor.Enabled || v.Config.Monitor.Port != int(monitorPort) {
		t.Errorf("%s: monitoring must be on port %d (probes, KEDA, the exporter)", path, monitorPort)
	}
	pe := v.PromExporter
	if !pe.Enabled || !pe.PodMonitor.Enabled {
		t.Errorf("%s: promExporter and its podMonitor must be enabled (consumer-lag series)", path)
	}
	var args []string
	for _, p := range pe.Patch {
		if p.Op == "replace" && p.Path == "/args" {
			args = p.Value
		}
	}
	if !contains(args, "-jsz=all") || !contains(args, fmt.Sprintf("-port=%d", pe.Port)) {
		t.Errorf("%s: exporter args %v need -jsz=all and -port=%d", path, args, pe.Port)
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-prefix") {
			t.Errorf("%s: exporter arg %s renames jetstream_* series the alerts and dashboard use", path, a)
		}
	}

	if tag := v.Container.Image.Tag; tag == "" || tag == "latest" {
		t.Errorf("%s: pin container.image.tag (got %q)", path, tag)
	}
	res := v.Container.Merge.Resources
	if res.Limits.Memory().IsZero() || res.Requests.Memory().IsZero() || res.Limits.Cpu().IsZero() || res.Requests.Cpu().IsZero() {
		t.Errorf("%s: NATS container needs CPU and memory requests and limits", path)
	}

	// The bcreg user's password: a server-side variable filled from the
	// Secret, never a literal.
	users := v.Config.Merge.Authorization.Users
	if len(users) == 0 {
		t.Errorf("%s: no NATS users: clients would connect unauthenticated", path)
	}
	for _, u := range users {
		m := chartVar.FindStringSubmatch(u.Password)
		if m == nil {
			t.Errorf("%s: user %s has a literal password; use << $VAR >> filled from the Secret", path, u.User)
			continue
		}
		checkSecretEnv(t, path+" container.env", v.Container.Env[m[1]])
	}
	checkSecretEnv(t, path+" natsBox.container.env", v.NatsBox.Container.Env["NATS_PASSWORD"])
	for where, env := range map[string]map[string]chartEnv{"container": v.Container.Env, "natsBox": v.NatsBox.Container.Env} {
		for k, e := range env {
			if why := looksSecret(k, e.Value); why != "" {
				t.Errorf("%s %s.env %s: %s", path, where, k, why)
			}
		}
	}
}

func checkSecretEnv(t *testing.T, where string, e chartEnv) {
	t.Helper()
	if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "bcreg-nats" || e.ValueFrom.SecretKeyRef.Key != "password" {
		t.Errorf("%s: the password must come from Secret bcreg-nats key password", where)
	}
}

// sharedConfigName finds the settings ConfigMap (its name carries a hash).
func sharedConfigName(r *rendered) string {
	for name := range r.configMaps {
		if strings.HasPrefix(name, "bcreg-events-config") {
			return name
		}
	}
	return ""
}

// TestNATSValuesMatchOverlays: one values file per overlay, no stray one
// (TestOverlays checks each file's content against its overlay).
func TestNATSValuesMatchOverlays(t *testing.T) {
	overlays := overlayDirs(t)
	files, err := filepath.Glob(filepath.Join("nats", "values-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "values-"), ".yaml")
		if !contains(overlays, name) {
			t.Errorf("%s has no overlay %s", f, name)
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(":latest")) {
			t.Errorf("%s: latest image tag", f)
		}
	}
	if len(files) != len(overlays) {
		t.Errorf("want one values file per overlay %v, got %v", overlays, files)
	}
}
