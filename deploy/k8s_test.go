package deploy

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// program is what the manifests owe one bcreg-events binary, keyed by its
// container name.
type program struct {
	// required are the variables with no usable default inside a cluster
	// (their defaults point at localhost, or name a choice to make).
	required []string
	// sidePort: serves /livez, /readyz and /metrics on BCREG_HTTP_ADDR and
	// drains within BCREG_SHUTDOWN_TIMEOUT.
	sidePort bool
	// natsClient, dbClient: reach NATS and PostgreSQL.
	natsClient, dbClient bool
	// agentClient: reaches the issuing agent at BCREG_AGENT_URL.
	agentClient bool
	// webhookClient: posts alerts to BCREG_WEBHOOK_URL (https).
	webhookClient bool
}

var natsCreds = []string{"BCREG_NATS_URL", "BCREG_NATS_USER", "BCREG_NATS_PASSWORD"}

var programs = map[string]program{
	"event-poller": {
		required: append([]string{"BCREG_EVENT_DB_URL", "BCREG_SOURCE_DB_URL", "BCREG_HTTP_ADDR"}, natsCreds...),
		sidePort: true, natsClient: true, dbClient: true, webhookClient: true,
	},
	"credential-builder": {
		required: append([]string{"BCREG_EVENT_DB_URL", "BCREG_SOURCE_DB_URL", "BCREG_HTTP_ADDR", "BCREG_PROFILE"}, natsCreds...),
		sidePort: true, natsClient: true, dbClient: true,
	},
	"poster": {
		required: append([]string{"BCREG_EVENT_DB_URL", "BCREG_AGENT_URL", "BCREG_HTTP_ADDR"}, natsCreds...),
		sidePort: true, natsClient: true, dbClient: true, agentClient: true,
	},
	"bcregctl": {
		required:   append([]string{"BCREG_EVENT_DB_URL"}, natsCreds...),
		natsClient: true, dbClient: true,
	},
	// bcregctl console as a Deployment (components/console).
	"console": {
		required: append([]string{"BCREG_EVENT_DB_URL", "BCREG_HTTP_ADDR", "BCREG_CONSOLE_ADDR"}, natsCreds...),
		sidePort: true, natsClient: true, dbClient: true, agentClient: true,
	},
	"vonx-sim": {required: []string{"BCREG_SIM_ADDR"}},
}

// Secrets the manifests may reference: created by the operator (see
// docs/operations.md, "Secrets"), never stored in git.
var documentedSecrets = []string{"bcreg-event-db", "bcreg-source-db", "bcreg-nats", "bcreg-webhook", "bcreg-console"}

// defaultShutdownTimeout is config.HTTP's default BCREG_SHUTDOWN_TIMEOUT.
const defaultShutdownTimeout = 20 * time.Second

// drainAfterDeadline is what pkg/daemon spends after the workers' deadline:
// draining the NATS connection (up to 10s) and closing the side port (up to
// 5s). The pod's grace period must cover the deadline plus this.
const drainAfterDeadline = 15 * time.Second

// Egress ports a bcreg-events pod may be allowed: DNS (OpenShift's DNS pods
// listen on 5353), NATS clients, PostgreSQL; the poster also the agent's
// (VON-X 5000, the issuer controller 5002 or 8080, a Route 443); the
// event-poller the alert webhook's (https).
var (
	dnsPorts     = []int32{53, 5353}
	natsPort     = int32(4222)
	postgresPort = int32(5432)
	monitorPort  = int32(8222)
	agentPorts   = []int32{443, 5000, 5002, 8080}
	webhookPort  = int32(443)
)

func TestOverlays(t *testing.T) {
	type target struct {
		name   string
		values string // deploy/nats values file for this namespace
		render func(t *testing.T) *rendered
	}
	var targets []target
	for _, name := range overlayDirs(t) {
		targets = append(targets, target{name: name, values: name, render: func(t *testing.T) *rendered { return renderOverlay(t, name) }})
	}
	// The documented fallback: prod with a CPU HorizontalPodAutoscaler where
	// KEDA is not installed.
	targets = append(targets, target{name: "prod-hpa-cpu", values: "prod", render: func(t *testing.T) *rendered {
		return renderVariant(t, "prod", "prod-hpa-cpu", func(k string) string {
			return strings.Replace(k, "../../components/keda", "../../components/hpa-cpu", 1)
		})
	}})

	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			r := tg.render(t)
			for _, c := range overlayChecks {
				t.Run(c.name, func(t *testing.T) { c.check(t, r) })
			}
			t.Run("nats-values", func(t *testing.T) { checkNATSValues(t, r, tg.values) })
			if tg.name == "prod-hpa-cpu" {
				t.Run("hpa-fallback", func(t *testing.T) {
					if len(r.scaledObjects) != 0 || len(r.hpas) != 2 {
						t.Errorf("want 2 HorizontalPodAutoscalers and no ScaledObject, got %d and %d", len(r.hpas), len(r.scaledObjects))
					}
				})
			}
		})
	}
}

var overlayChecks = []struct {
	name  string
	check func(*testing.T, *rendered)
}{
	{"decode", checkDecoded},
	{"labels", checkLabels},
	{"images", checkImages},
	{"resources", checkResources},
	{"probes", checkProbes},
	{"security", checkSecurity},
	{"no-secret-values", checkNoSecretValues},
	{"env", checkEnv},
	{"shutdown", checkShutdown},
	{"disruption-budgets", checkDisruptionBudgets},
	{"services-and-monitors", checkServicesAndMonitors},
	{"network-policies", checkNetworkPolicies},
	{"autoscaling", checkAutoscaling},
	{"alerts-and-dashboard", checkMonitoring},
}

// checkDecoded: every object decoded strictly into its Go type, and the
// overlay has each part of the deployment.
func checkDecoded(t *testing.T, r *rendered) {
	for _, p := range r.problems {
		t.Error(p)
	}
	if r.namespace == "" {
		t.Error("no namespace set: an overlay must set `namespace:`")
	}
	for _, name := range []string{"event-poller", "credential-builder", "poster"} {
		if r.deployment(name) == nil {
			t.Errorf("Deployment %s missing", name)
		}
	}
	if len(r.jobs) != 1 || r.jobs[0].Name != "bcreg-migrate" {
		t.Errorf("want the Job bcreg-migrate, got %d Jobs", len(r.jobs))
	}
	for _, what := range []struct {
		n    int
		kind string
	}{{len(r.serviceMonitors), "ServiceMonitor"}, {len(r.rules), "PrometheusRule"}, {len(r.netpols), "NetworkPolicy"}, {len(r.pdbs), "PodDisruptionBudget"}} {
		if what.n == 0 {
			t.Errorf("no %s in the output", what.kind)
		}
	}
}

// checkLabels: every object and pod carries the part-of label the network
// policies select on.
func checkLabels(t *testing.T, r *rendered) {
	for _, o := range r.all {
		if o.GetLabels()["app.kubernetes.io/part-of"] != "bcreg-events" {
			t.Errorf("%s: label app.kubernetes.io/part-of=bcreg-events missing", o.GetName())
		}
	}
	for _, w := range r.workloads() {
		if w.tmpl.Labels["app.kubernetes.io/part-of"] != "bcreg-events" {
			t.Errorf("%s %s: pod template lacks app.kubernetes.io/part-of=bcreg-events", w.kind, w.name)
		}
		if w.tmpl.Labels["app.kubernetes.io/component"] == "" {
			t.Errorf("%s %s: pod template lacks app.kubernetes.io/component", w.kind, w.name)
		}
	}
}

// checkImages: pinned tags, never latest, one release tag for every
// bcreg-events image of an overlay (the services share message contracts).
func checkImages(t *testing.T, r *rendered) {
	tags := map[string][]string{}
	for _, w := range r.workloads() {
		for _, c := range allContainers(w.tmpl) {
			name, tag := imageTag(c.Image)
			switch {
			case tag == "":
				t.Errorf("%s %s/%s: image %q has no tag (means latest): pin one with the overlay's images:", w.kind, w.name, c.Name, c.Image)
			case tag == "latest":
				t.Errorf("%s %s/%s: image %q: latest is not a version", w.kind, w.name, c.Name, c.Image)
			}
			if c.ImagePullPolicy != corev1.PullIfNotPresent {
				t.Errorf("%s %s/%s: imagePullPolicy %q, want IfNotPresent for a pinned tag", w.kind, w.name, c.Name, c.ImagePullPolicy)
			}
			if strings.HasPrefix(name, "ghcr.io/bcgov/bcreg-events/") {
				tags[tag] = append(tags[tag], c.Name)
			}
		}
	}
	if len(tags) > 1 {
		t.Errorf("bcreg-events images carry different tags %v: release them together", tags)
	}
}

// checkResources: requests and limits for CPU and memory on every container,
// limits at least the requests.
func checkResources(t *testing.T, r *rendered) {
	for _, w := range r.workloads() {
		for _, c := range allContainers(w.tmpl) {
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, hasReq := c.Resources.Requests[res]
				lim, hasLim := c.Resources.Limits[res]
				if !hasReq || !hasLim {
					t.Errorf("%s %s/%s: %s request and limit both required (request %v, limit %v)", w.kind, w.name, c.Name, res, hasReq, hasLim)
					continue
				}
				if lim.Cmp(req) < 0 {
					t.Errorf("%s %s/%s: %s limit %s below request %s", w.kind, w.name, c.Name, res, lim.String(), req.String())
				}
			}
		}
	}
}

// checkProbes: every long-running container has liveness and readiness
// probes; the services' are the side port's /livez and /readyz.
func checkProbes(t *testing.T, r *rendered) {
	for _, w := range r.workloads() {
		if w.kind == "Job" {
			continue // a run-to-completion pod is not probed
		}
		for _, c := range w.tmpl.Spec.Containers {
			if c.LivenessProbe == nil || c.ReadinessProbe == nil {
				t.Errorf("%s %s/%s: liveness and readiness probes required", w.kind, w.name, c.Name)
				continue
			}
			if !programs[c.Name].sidePort {
				continue
			}
			for _, p := range []struct {
				kind  string
				probe *corev1.Probe
				path  string
			}{{"liveness", c.LivenessProbe, "/livez"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
				g := p.probe.HTTPGet
				if g == nil || g.Path != p.path || g.Port.String() != "http" {
					t.Errorf("%s %s/%s: %s probe must GET %s on port http, got %+v", w.kind, w.name, c.Name, p.kind, p.path, g)
				}
			}
			if containerPort(c, "http") == 0 {
				t.Errorf("%s %s/%s: no container port named http", w.kind, w.name, c.Name)
			}
		}
	}
}

// checkSecurity: the restricted profile, with no fixed user so OpenShift's
// restricted SCC can assign one from the namespace's range.
func checkSecurity(t *testing.T, r *rendered) {
	for _, w := range r.workloads() {
		id := w.kind + " " + w.name
		ps := w.tmpl.Spec.SecurityContext
		podNonRoot := ps != nil && ps.RunAsNonRoot != nil && *ps.RunAsNonRoot
		switch {
		case ps == nil:
			t.Errorf("%s: pod securityContext missing", id)
		default:
			if ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("%s: pod seccompProfile must be RuntimeDefault", id)
			}
			if ps.RunAsUser != nil || ps.RunAsGroup != nil || ps.FSGroup != nil {
				t.Errorf("%s: runAsUser/runAsGroup/fsGroup set: leave them to OpenShift's SCC", id)
			}
		}
		spec := w.tmpl.Spec
		if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
			t.Errorf("%s: enableServiceLinks must be false (service env vars would flood the environment)", id)
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken must be false (no Kubernetes API use)", id)
		}
		if _, ok := r.serviceAccounts[spec.ServiceAccountName]; !ok {
			t.Errorf("%s: serviceAccountName %q is not a ServiceAccount of the output", id, spec.ServiceAccountName)
		}
		if spec.HostNetwork || spec.HostPID || spec.HostIPC {
			t.Errorf("%s: host namespaces are not allowed", id)
		}
		for _, v := range spec.Volumes {
			if v.HostPath != nil {
				t.Errorf("%s: hostPath volume %s", id, v.Name)
			}
		}
		for _, c := range allContainers(w.tmpl) {
			cs := c.SecurityContext
			cid := id + "/" + c.Name
			if cs == nil {
				t.Errorf("%s: container securityContext missing", cid)
				continue
			}
			if !podNonRoot && (cs.RunAsNonRoot == nil || !*cs.RunAsNonRoot) {
				t.Errorf("%s: runAsNonRoot must be true", cid)
			}
			if cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
				t.Errorf("%s: readOnlyRootFilesystem must be true", cid)
			}
			if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation must be false", cid)
			}
			if cs.Privileged != nil && *cs.Privileged {
				t.Errorf("%s: privileged", cid)
			}
			if cs.Capabilities == nil || !containsCap(cs.Capabilities.Drop, "ALL") || len(cs.Capabilities.Add) > 0 {
				t.Errorf("%s: capabilities must drop ALL and add none", cid)
			}
			if cs.RunAsUser != nil || cs.RunAsGroup != nil {
				t.Errorf("%s: runAsUser/runAsGroup set: leave them to OpenShift's SCC", cid)
			}
		}
	}
}

// secretName matches variable and key names that hold credentials.
var secretName = regexp.MustCompile(`(?i)(password|passwd|secret|token|api_?key|private_?key|credential)`)

// checkNoSecretValues: no Secret objects with data; no credentials in
// ConfigMaps or env values; Secrets referenced by name only, from the list
// the runbook tells operators to create.
func checkNoSecretValues(t *testing.T, r *rendered) {
	for _, s := range r.secrets {
		if len(s.Data) > 0 || len(s.StringData) > 0 {
			t.Errorf("Secret %s carries data: secrets are created in the namespace, never kept in git", s.Name)
		}
	}
	for name, cm := range r.configMaps {
		if cm.Labels["grafana_dashboard"] != "" {
			continue
		}
		for k, v := range cm.Data {
			if why := looksSecret(k, v); why != "" {
				t.Errorf("ConfigMap %s key %s: %s", name, k, why)
			}
		}
	}
	for _, w := range r.workloads() {
		for _, c := range allContainers(w.tmpl) {
			for _, e := range c.Env {
				if e.ValueFrom != nil {
					if ref := e.ValueFrom.SecretKeyRef; ref != nil && !contains(documentedSecrets, ref.Name) {
						t.Errorf("%s %s/%s: %s references Secret %q, not one of the documented %v", w.kind, w.name, c.Name, e.Name, ref.Name, documentedSecrets)
					}
					continue
				}
				if why := looksSecret(e.Name, e.Value); why != "" {
					t.Errorf("%s %s/%s: env %s: %s", w.kind, w.name, c.Name, e.Name, why)
				}
			}
		}
	}
}

// looksSecret explains why a literal setting looks like a credential, or
// returns "".
func looksSecret(name, value string) string {
	if value == "" {
		return ""
	}
	if secretName.MatchString(name) {
		return "a credential-like name with a literal value: use valueFrom.secretKeyRef"
	}
	if strings.Contains(strings.ToLower(value), "password=") {
		return "a password= parameter in a literal value"
	}
	if u, err := url.Parse(value); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && !envRef.MatchString(pw) {
			return "a URL with a literal password (compose it from a secretKeyRef variable with $(VAR))"
		}
	}
	return ""
}

// checkEnv: every program gets the variables it needs inside a cluster,
// with well-formed values; every BCREG_ variable set is one some program
// reads (a misspelt name is otherwise silently ignored).
func checkEnv(t *testing.T, r *rendered) {
	known := knownSettings(t)
	used := map[string]bool{} // ConfigMap keys referenced by $(VAR)
	for _, w := range r.workloads() {
		for _, c := range allContainers(w.tmpl) {
			id := fmt.Sprintf("%s %s/%s", w.kind, w.name, c.Name)
			spec, ok := programs[c.Name]
			if !ok {
				t.Errorf("%s: container is not a known bcreg-events program (%v)", id, sortedKeys(programs))
				continue
			}
			env, problems := r.containerEnv(c)
			for _, p := range problems {
				t.Errorf("%s: %s", id, p)
			}
			for _, e := range c.Env {
				for _, m := range envRef.FindAllStringSubmatch(e.Value, -1) {
					used[m[1]] = true
				}
			}
			for _, name := range spec.required {
				if v, ok := env[name]; !ok || v.value == "" {
					t.Errorf("%s: %s is not set (its default does not work in a cluster)", id, name)
				}
			}
			for _, name := range sortedKeys(env) {
				if strings.HasPrefix(name, "BCREG_") && !known[name] {
					t.Errorf("%s: %s is set but no program reads it (misspelt?)", id, name)
				}
			}
			for _, p := range checkSettingValues(env, c, spec) {
				t.Errorf("%s: %s", id, p)
			}
		}
	}
	// Helper keys of the ConfigMap (EVENT_DB_HOST, ...) exist only to be
	// composed into URLs: one nobody references is a mistake.
	for name, cm := range r.configMaps {
		for k := range cm.Data {
			if cm.Labels["grafana_dashboard"] == "" && !strings.HasPrefix(k, "BCREG_") && !used[k] {
				t.Errorf("ConfigMap %s key %s: not a BCREG_ setting and no $(%s) uses it", name, k, k)
			}
		}
	}
}

// checkSettingValues validates the forms of the settings a cluster depends on.
func checkSettingValues(env map[string]envValue, c corev1.Container, spec program) []string {
	var problems []string
	if v, ok := env["BCREG_NATS_URL"]; ok {
		for _, s := range strings.Split(v.value, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Hostname() == "" || isLoopback(u.Hostname()) {
				problems = append(problems, fmt.Sprintf("BCREG_NATS_URL %q: want nats://<service>:4222", s))
			}
		}
	}
	for _, db := range []string{"BCREG_EVENT_DB", "BCREG_SOURCE_DB"} {
		name := db + "_URL"
		v, ok := env[name]
		if !ok {
			continue
		}
		u, err := url.Parse(v.value)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s does not parse once composed (%v); a Secret's password with URL-reserved characters breaks it: give it in %s_PASSWORD", name, err, db))
			continue
		case u.Scheme != "postgres" && u.Scheme != "postgresql":
			problems = append(problems, fmt.Sprintf("%s: scheme %q, want postgres", name, u.Scheme))
		case u.Hostname() == "" || isLoopback(u.Hostname()):
			problems = append(problems, fmt.Sprintf("%s: host %q is not a database in the cluster", name, u.Hostname()))
		case strings.Trim(u.Path, "/") == "":
			problems = append(problems, fmt.Sprintf("%s: no database name", name))
		}
		// The credentials come unencoded from the Secret, beside the URL:
		// any password works, and none is pasted into a URL.
		if u.User != nil {
			problems = append(problems, fmt.Sprintf("%s: carries a user or password; give them in %s_USER and %s_PASSWORD from a Secret", name, db, db))
		}
		for _, cred := range []string{db + "_USER", db + "_PASSWORD"} {
			if c, ok := env[cred]; !ok || !c.fromSecret {
				problems = append(problems, fmt.Sprintf("%s must come from a Secret (secretKeyRef)", cred))
			}
		}
	}
	if v, ok := env["BCREG_NATS_PASSWORD"]; ok && !v.fromSecret {
		problems = append(problems, "BCREG_NATS_PASSWORD must come from a Secret")
	}
	if v, ok := env["BCREG_AGENT_URL"]; ok {
		for _, s := range strings.Split(v.value, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || isLoopback(u.Hostname()) {
				problems = append(problems, fmt.Sprintf("BCREG_AGENT_URL %q: want http(s)://<agent>/...", s))
			}
		}
	}
	for _, addr := range []string{"BCREG_HTTP_ADDR", "BCREG_SIM_ADDR"} {
		v, ok := env[addr]
		if !ok || (addr == "BCREG_HTTP_ADDR" && !spec.sidePort) {
			continue // bcregctl gets the shared settings but opens no side port
		}
		host, port, err := net.SplitHostPort(v.value)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s %q: %v", addr, v.value, err))
			continue
		}
		if isLoopback(host) {
			problems = append(problems, fmt.Sprintf("%s %q listens on loopback only: probes and Prometheus cannot reach it", addr, v.value))
		}
		if p, _ := strconv.Atoi(port); int32(p) != containerPort(c, "http") {
			problems = append(problems, fmt.Sprintf("%s port %s is not the container port named http (%d)", addr, port, containerPort(c, "http")))
		}
	}
	if v, ok := env["BCREG_SHUTDOWN_TIMEOUT"]; ok {
		if _, err := time.ParseDuration(v.value); err != nil {
			problems = append(problems, fmt.Sprintf("BCREG_SHUTDOWN_TIMEOUT %q: %v", v.value, err))
		}
	}
	return problems
}

// checkShutdown: the pod's grace period outlasts the drain deadline plus the
// connection drain that follows it, so SIGKILL never cuts a drain short.
func checkShutdown(t *testing.T, r *rendered) {
	for _, w := range r.workloads() {
		for _, c := range w.tmpl.Spec.Containers {
			if !programs[c.Name].sidePort {
				continue
			}
			env, _ := r.containerEnv(c)
			timeout := defaultShutdownTimeout
			if v, ok := env["BCREG_SHUTDOWN_TIMEOUT"]; ok {
				d, err := time.ParseDuration(v.value)
				if err != nil {
					t.Errorf("%s %s: BCREG_SHUTDOWN_TIMEOUT %q: %v", w.kind, w.name, v.value, err)
					continue
				}
				timeout = d
			}
			if c.Name == "poster" {
				timeout = max(timeout, posterDrain(t, env))
			}
			grace := 30 * time.Second // Kubernetes' default
			if g := w.tmpl.Spec.TerminationGracePeriodSeconds; g != nil {
				grace = time.Duration(*g) * time.Second
			}
			if grace <= timeout+drainAfterDeadline {
				t.Errorf("%s %s: terminationGracePeriodSeconds %v must exceed the drain deadline %v (BCREG_SHUTDOWN_TIMEOUT; the poster at least its request timeout + 5s) + %v of NATS drain and side-port close",
					w.kind, w.name, grace, timeout, drainAfterDeadline)
			}
		}
	}
}

// posterDrain is the poster's least drain deadline
// (services/poster/internal/poster: Config.drainDeadline): its request
// timeout plus 5s to record the answer, so a request sent just before
// SIGTERM is answered and recorded before the process exits.
func posterDrain(t *testing.T, env map[string]envValue) time.Duration {
	t.Helper()
	timeout := 240 * time.Second
	if v, ok := env["MAX_CRED_POSTING_TIMEOUT"]; ok {
		secs, err := strconv.Atoi(v.value)
		if err != nil {
			t.Errorf("poster: MAX_CRED_POSTING_TIMEOUT %q: %v", v.value, err)
		}
		timeout = time.Duration(secs) * time.Second
	}
	if v, ok := env["BCREG_POSTER_REQUEST_TIMEOUT"]; ok {
		d, err := time.ParseDuration(v.value)
		if err != nil {
			t.Errorf("poster: BCREG_POSTER_REQUEST_TIMEOUT %q: %v", v.value, err)
		}
		timeout = d
	}
	return timeout + 5*time.Second
}

// checkDisruptionBudgets: each service has a PDB that selects its pods, lets
// unready pods be evicted, and never blocks a drain outright; the poller
// keeps one of its two replicas.
func checkDisruptionBudgets(t *testing.T, r *rendered) {
	for _, d := range r.deployments {
		if !programs[d.Spec.Template.Spec.Containers[0].Name].sidePort {
			continue
		}
		var matched []*policyv1.PodDisruptionBudget
		for _, p := range r.pdbs {
			if selects(t, p.Spec.Selector, d.Spec.Template.Labels) {
				matched = append(matched, p)
			}
		}
		if len(matched) != 1 {
			t.Errorf("Deployment %s: want exactly one PodDisruptionBudget, got %d", d.Name, len(matched))
			continue
		}
		p := matched[0]
		if p.Spec.UnhealthyPodEvictionPolicy == nil || *p.Spec.UnhealthyPodEvictionPolicy != policyv1.AlwaysAllow {
			t.Errorf("PodDisruptionBudget %s: unhealthyPodEvictionPolicy must be AlwaysAllow (unready posters while the agent is down must not block drains)", p.Name)
		}
		if p.Spec.MinAvailable != nil && d.Spec.Replicas != nil && p.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
			t.Errorf("PodDisruptionBudget %s: minAvailable %s with %d replicas blocks every drain", p.Name, p.Spec.MinAvailable.String(), *d.Spec.Replicas)
		}
	}
	if d := r.deployment("event-poller"); d != nil && (d.Spec.Replicas == nil || *d.Spec.Replicas != 2) {
		t.Errorf("event-poller: want 2 replicas (one active, one standby), got %v", d.Spec.Replicas)
	}
}

// checkServicesAndMonitors: each service has a Service for its side port and
// a ServiceMonitor that scrapes it.
func checkServicesAndMonitors(t *testing.T, r *rendered) {
	for _, svc := range r.services {
		if len(svc.Spec.Selector) == 0 {
			t.Errorf("Service %s has no selector", svc.Name)
			continue
		}
		found := false
		for _, w := range r.workloads() {
			if w.kind == "Deployment" && selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, w.tmpl.Labels) {
				found = true
				c := w.tmpl.Spec.Containers[0]
				for _, p := range svc.Spec.Ports {
					tp := p.TargetPort
					if (tp.Type == intstr.String && containerPort(c, tp.StrVal) == 0) || (tp.Type == intstr.Int && containerPortNumber(c, tp.IntValue()) == 0) {
						t.Errorf("Service %s port %s targets %q, not a port of %s", svc.Name, p.Name, tp.String(), w.name)
					}
				}
			}
		}
		if !found {
			t.Errorf("Service %s selects no Deployment's pods", svc.Name)
		}
	}
	for _, d := range r.deployments {
		if !programs[d.Spec.Template.Spec.Containers[0].Name].sidePort {
			continue
		}
		var svc *corev1.Service
		for _, s := range r.services {
			if len(s.Spec.Selector) > 0 && selects(t, &metav1.LabelSelector{MatchLabels: s.Spec.Selector}, d.Spec.Template.Labels) && servicePort(s, "http") != nil {
				svc = s
			}
		}
		if svc == nil {
			t.Errorf("Deployment %s: no Service with a port named http for its side port", d.Name)
			continue
		}
		if !svc.Spec.PublishNotReadyAddresses {
			t.Errorf("Service %s: publishNotReadyAddresses must be true so unready replicas are still scraped", svc.Name)
		}
		monitored := false
		for _, sm := range r.serviceMonitors {
			if !selects(t, &sm.Spec.Selector, svc.Labels) {
				continue
			}
			for _, ep := range sm.Spec.Endpoints {
				if ep.Port == "http" && ep.Path == "/metrics" {
					monitored = true
				}
			}
		}
		if !monitored {
			t.Errorf("Service %s: no ServiceMonitor scrapes its http port at /metrics", svc.Name)
		}
	}
}

// checkNetworkPolicies: every pod is under deny-all, reaches DNS, and
// reaches only the ports its program needs.
func checkNetworkPolicies(t *testing.T, r *rendered) {
	natsPods := map[string]string{"app.kubernetes.io/name": "nats", "app.kubernetes.io/component": "nats", "app.kubernetes.io/instance": "nats"}
	for _, w := range r.workloads() {
		labels := w.tmpl.Labels
		id := w.kind + " " + w.name
		c := w.tmpl.Spec.Containers[0]
		spec := programs[c.Name]
		var denyIn, denyOut bool
		egress := map[int32]bool{}
		var natsReachable bool
		for _, np := range r.netpols {
			if !selects(t, &np.Spec.PodSelector, labels) {
				continue
			}
			for _, pt := range np.Spec.PolicyTypes {
				switch pt {
				case networkingv1.PolicyTypeIngress:
					denyIn = true
				case networkingv1.PolicyTypeEgress:
					denyOut = true
				}
			}
			for _, rule := range np.Spec.Egress {
				if len(rule.Ports) == 0 {
					t.Errorf("%s: NetworkPolicy %s allows egress on every port", id, np.Name)
				}
				for _, p := range rule.Ports {
					port := int32(p.Port.IntValue())
					egress[port] = true
					if port == natsPort {
						for _, peer := range rule.To {
							if peer.PodSelector != nil && selects(t, peer.PodSelector, natsPods) {
								natsReachable = true
							}
						}
					}
				}
			}
			for _, rule := range np.Spec.Ingress {
				for _, p := range rule.Ports {
					if containerPortNumber(c, p.Port.IntValue()) == 0 {
						t.Errorf("%s: NetworkPolicy %s opens ingress port %s the pod does not listen on", id, np.Name, p.Port.String())
					}
				}
				if len(rule.Ports) == 0 {
					t.Errorf("%s: NetworkPolicy %s allows ingress on every port", id, np.Name)
				}
			}
		}
		if !denyIn || !denyOut {
			t.Errorf("%s: not selected by policies restricting both ingress (%v) and egress (%v)", id, denyIn, denyOut)
		}
		for _, p := range dnsPorts {
			if !egress[p] {
				t.Errorf("%s: DNS (port %d) not allowed", id, p)
			}
		}
		allowed := map[int32]bool{53: true, 5353: true}
		if spec.natsClient {
			allowed[natsPort] = true
			if !natsReachable {
				t.Errorf("%s: no egress to the NATS pods on %d", id, natsPort)
			}
		}
		if spec.dbClient {
			allowed[postgresPort] = true
			if !egress[postgresPort] {
				t.Errorf("%s: no egress to PostgreSQL on %d", id, postgresPort)
			}
		}
		if spec.agentClient {
			env, _ := r.containerEnv(c)
			for _, s := range strings.Split(env["BCREG_AGENT_URL"].value, ",") {
				port := urlPort(strings.TrimSpace(s))
				allowed[port] = true
				if !egress[port] {
					t.Errorf("%s: BCREG_AGENT_URL %s needs egress on port %d", id, s, port)
				}
			}
			for _, p := range agentPorts {
				allowed[p] = true
			}
		}
		if spec.webhookClient {
			allowed[webhookPort] = true
			if !egress[webhookPort] {
				t.Errorf("%s: no egress to the alert webhook on %d", id, webhookPort)
			}
		}
		for p := range egress {
			if !allowed[p] {
				t.Errorf("%s: egress on port %d allowed, but it only needs %v", id, p, sortedPorts(allowed))
			}
		}
	}
	// The NATS pods accept our clients, and KEDA's monitoring reads where
	// KEDA scales.
	var natsIn []networkingv1.NetworkPolicyIngressRule
	for _, np := range r.netpols {
		if selects(t, &np.Spec.PodSelector, natsPods) {
			natsIn = append(natsIn, np.Spec.Ingress...)
		}
	}
	if !ingressAllowsPort(natsIn, natsPort) {
		t.Error("no NetworkPolicy lets clients reach the NATS pods on 4222")
	}
	if len(r.scaledObjects) > 0 && !ingressAllowsPort(natsIn, monitorPort) {
		t.Error("ScaledObjects read NATS monitoring, but no NetworkPolicy opens 8222 on the NATS pods")
	}
}

// Defaults of the settings that bound what one replica holds at once
// (mirrored from services/*/internal: builder.Build, poster.Settings,
// bus.Topology). A replica prefetches at most workers x batch messages.
const (
	defaultBuilderBatch   = 200
	defaultBuilderWorkers = 2
	defaultPosterInflight = 16
	defaultMaxAckPending  = 2000
)

// checkAutoscaling: the builder and the poster have at most one autoscaler
// each, which then owns spec.replicas; KEDA triggers read the right
// consumer through the namespace's NATS monitoring endpoint; maximum
// replicas never prefetch more than the consumer's MaxAckPending.
func checkAutoscaling(t *testing.T, r *rendered) {
	wantConsumer := map[string][2]string{
		"credential-builder": {"BCREG_EVENTS", "credential-builder"},
		"poster":             {"BCREG_CREDS", "poster"},
	}
	maxReplicas := map[string]int32{}
	targets := map[string]int{}
	for _, so := range r.scaledObjects {
		ref := so.Spec.ScaleTargetRef
		id := "ScaledObject " + so.Name
		targets[ref.Name]++
		if (ref.Kind != "" && ref.Kind != "Deployment") || r.deployment(ref.Name) == nil {
			t.Errorf("%s: scaleTargetRef %s/%s is not a Deployment of the output", id, ref.Kind, ref.Name)
			continue
		}
		want, scalable := wantConsumer[ref.Name]
		if !scalable {
			t.Errorf("%s: %s must not be autoscaled", id, ref.Name)
			continue
		}
		minR, maxR := deref(so.Spec.MinReplicaCount, 0), deref(so.Spec.MaxReplicaCount, 100)
		if minR < 1 {
			t.Errorf("%s: minReplicaCount %d: builders and posters also run the dlq-mover (and the builder the outbox sweep), never scale them to zero", id, minR)
		}
		if maxR < minR {
			t.Errorf("%s: maxReplicaCount %d < minReplicaCount %d", id, maxR, minR)
		}
		if f := so.Spec.Fallback; f != nil && (f.Replicas < minR || f.Replicas > maxR) {
			t.Errorf("%s: fallback replicas %d outside [%d, %d]", id, f.Replicas, minR, maxR)
		}
		maxReplicas[ref.Name] = maxR
		if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "nats-jetstream" {
			t.Errorf("%s: want one nats-jetstream trigger", id)
			continue
		}
		md := so.Spec.Triggers[0].Metadata
		for k := range md {
			if !contains([]string{"natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold", "activationLagThreshold", "useHttps"}, k) {
				t.Errorf("%s: unknown nats-jetstream metadata %q", id, k)
			}
		}
		if md["stream"] != want[0] || md["consumer"] != want[1] {
			t.Errorf("%s: scales %s on %s/%s, want consumer %s on %s", id, ref.Name, md["stream"], md["consumer"], want[1], want[0])
		}
		if md["account"] != "$G" {
			t.Errorf("%s: account %q: the NATS users live in the global account $G (deploy/nats values)", id, md["account"])
		}
		if n, err := strconv.ParseInt(md["lagThreshold"], 10, 64); err != nil || n <= 0 {
			t.Errorf("%s: lagThreshold %q must be a positive integer", id, md["lagThreshold"])
		}
		if n, err := strconv.ParseInt(md["activationLagThreshold"], 10, 64); err != nil || n < 0 {
			t.Errorf("%s: activationLagThreshold %q must be a non-negative integer", id, md["activationLagThreshold"])
		}
		host, port, err := net.SplitHostPort(md["natsServerMonitoringEndpoint"])
		if err != nil || port != strconv.Itoa(int(monitorPort)) || !strings.HasPrefix(host+".", "nats-headless."+r.namespace+".svc.") {
			t.Errorf("%s: natsServerMonitoringEndpoint %q, want nats-headless.%s.svc.cluster.local:%d (KEDA runs in another namespace and reaches each server through the headless Service)",
				id, md["natsServerMonitoringEndpoint"], r.namespace, monitorPort)
		}
	}
	for _, h := range r.hpas {
		ref := h.Spec.ScaleTargetRef
		targets[ref.Name]++
		if ref.Kind != "Deployment" || r.deployment(ref.Name) == nil {
			t.Errorf("HorizontalPodAutoscaler %s: target %s/%s is not a Deployment of the output", h.Name, ref.Kind, ref.Name)
			continue
		}
		if _, ok := wantConsumer[ref.Name]; !ok {
			t.Errorf("HorizontalPodAutoscaler %s: %s must not be autoscaled", h.Name, ref.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas < *h.Spec.MinReplicas || len(h.Spec.Metrics) == 0 {
			t.Errorf("HorizontalPodAutoscaler %s: want 1 <= minReplicas <= maxReplicas and a metric", h.Name)
		}
		maxReplicas[ref.Name] = h.Spec.MaxReplicas
	}
	for name := range wantConsumer {
		d := r.deployment(name)
		if d == nil {
			continue
		}
		switch targets[name] {
		case 0:
			if d.Spec.Replicas == nil {
				t.Errorf("Deployment %s: no autoscaler, so spec.replicas must be set", name)
			}
			maxReplicas[name] = deref(d.Spec.Replicas, 1)
		case 1:
			if d.Spec.Replicas != nil {
				t.Errorf("Deployment %s: spec.replicas is set although an autoscaler owns it (every apply would reset a scaled-out Deployment)", name)
			}
		default:
			t.Errorf("Deployment %s: %d autoscalers target it", name, targets[name])
		}
	}
	if targets["event-poller"] > 0 {
		t.Error("event-poller is autoscaled: it runs one active replica and one standby")
	}
	// Replicas beyond what MaxAckPending lets the consumer hand out only wait.
	for name, max := range maxReplicas {
		d := r.deployment(name)
		env, _ := r.containerEnv(d.Spec.Template.Spec.Containers[0])
		perReplica := prefetch(name, env)
		limit := envInt(env, "BCREG_JS_MAX_ACK_PENDING", defaultMaxAckPending)
		if int(max)*perReplica > limit {
			t.Errorf("%s: %d replicas x %d prefetched messages = %d > BCREG_JS_MAX_ACK_PENDING %d: the extra replicas would idle",
				name, max, perReplica, int(max)*perReplica, limit)
		}
	}
}

// prefetch is how many messages one replica holds at most (workers x batch).
func prefetch(name string, env map[string]envValue) int {
	switch name {
	case "credential-builder":
		return envInt(env, "BCREG_BUILDER_BATCH", defaultBuilderBatch) * envInt(env, "BCREG_BUILDER_WORKERS", defaultBuilderWorkers)
	case "poster":
		size := 20 // VON-X requests; the issuer controller's are 5
		if env["BCREG_AGENT_PROTOCOL"].value == "controller" {
			size = 5
		}
		size = envInt(env, "BCREG_POSTER_REQUEST_SIZE", size)
		return envInt(env, "BCREG_POSTER_MAX_INFLIGHT", defaultPosterInflight) * size
	}
	return 0
}

var (
	knownOnce sync.Once
	knownSet  map[string]bool
	knownErr  error
)

// knownSettings lists the BCREG_ variables the programs read, from the
// envconfig tags in ../pkg and ../services (read as text: the deploy module
// imports no service code).
func knownSettings(t *testing.T) map[string]bool {
	t.Helper()
	knownOnce.Do(func() {
		tag := regexp.MustCompile(`envconfig:"([A-Z0-9_]+)"`)
		knownSet = map[string]bool{}
		knownErr = eachProgramSource(func(src []byte) {
			for _, m := range tag.FindAllSubmatch(src, -1) {
				knownSet["BCREG_"+string(m[1])] = true
			}
		})
	})
	if knownErr != nil || len(knownSet) == 0 {
		t.Fatalf("read the settings from ../pkg and ../services: %v (%d found)", knownErr, len(knownSet))
	}
	return knownSet
}

func allContainers(tmpl *corev1.PodTemplateSpec) []corev1.Container {
	return append(append([]corev1.Container{}, tmpl.Spec.InitContainers...), tmpl.Spec.Containers...)
}

func containerPort(c corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

func containerPortNumber(c corev1.Container, port int) int32 {
	for _, p := range c.Ports {
		if int(p.ContainerPort) == port {
			return p.ContainerPort
		}
	}
	return 0
}

func servicePort(s *corev1.Service, name string) *corev1.ServicePort {
	for i := range s.Spec.Ports {
		if s.Spec.Ports[i].Name == name {
			return &s.Spec.Ports[i]
		}
	}
	return nil
}

func ingressAllowsPort(rules []networkingv1.NetworkPolicyIngressRule, port int32) bool {
	for _, rule := range rules {
		for _, p := range rule.Ports {
			if int32(p.Port.IntValue()) == port {
				return true
			}
		}
	}
	return false
}

func containsCap(caps []corev1.Capability, c corev1.Capability) bool {
	for _, v := range caps {
		if v == c {
			return true
		}
	}
	return false
}

func sortedPorts(m map[int32]bool) []int {
	var out []int
	for p := range m {
		out = append(out, int(p))
	}
	sort.Ints(out)
	return out
}

func urlPort(raw string) int32 {
	u, err := url.Parse(raw)
	if err != nil {
		return 0
	}
	if p := u.Port(); p != "" {
		n, _ := strconv.Atoi(p)
		return int32(n)
	}
	if u.Scheme == "https" {
		return 443
	}
	return 80
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func envInt(env map[string]envValue, name string, def int) int {
	if v, ok := env[name]; ok {
		if n, err := strconv.Atoi(v.value); err == nil {
			return n
		}
	}
	return def
}

func deref(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// quantity parses a Kubernetes quantity, failing the test on a bad one.
func quantity(t *testing.T, what, s string) resource.Quantity {
	t.Helper()
	q, err := resource.ParseQuantity(s)
	if err != nil {
		t.Errorf("%s %q: %v", what, s, err)
	}
	return q
}
