package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Series the alerts and the dashboard may use: the services' metrics and
// the prometheus-nats-exporter's JetStream gauges (run without -prefix, see
// deploy/nats/values-*.yaml). Histograms also expose _bucket, _sum, _count.
var (
	serviceMetrics = []string{
		"bcreg_poller_polls_total", "bcreg_poller_corporations_found_total",
		"bcreg_poller_poll_duration_seconds", "bcreg_poller_watermark_lag_seconds",
		"bcreg_builder_messages_total", "bcreg_builder_batch_duration_seconds",
		"bcreg_builder_credentials_stored_total", "bcreg_builder_outbox_backlog",
		"bcreg_poster_requests_total", "bcreg_poster_request_duration_seconds",
		"bcreg_poster_credentials_total", "bcreg_poster_credential_events_total", "bcreg_poster_inflight", "bcreg_poster_concurrency_limit",
		"bcreg_poster_agent_errors_total", "bcreg_poster_agent_healthy",
		"bcreg_stage_messages_total", "bcreg_stage_handler_duration_seconds", "bcreg_dead_letters_total",
		"bcreg_alerts_sent_total", "bcreg_alerts_failed_total", "bcreg_alerts_suppressed_total", "bcreg_audit_findings",
	}
	histograms = []string{
		"bcreg_poller_poll_duration_seconds", "bcreg_builder_batch_duration_seconds", "bcreg_poster_request_duration_seconds",
		"bcreg_stage_handler_duration_seconds",
	}
	exporterMetrics = []string{
		"jetstream_consumer_num_pending", "jetstream_consumer_num_ack_pending", "jetstream_consumer_num_redelivered",
		"jetstream_consumer_num_waiting", "jetstream_consumer_ack_floor_stream_seq", "jetstream_consumer_delivered_stream_seq",
		"jetstream_stream_total_messages", "jetstream_stream_total_bytes", "jetstream_stream_last_seq",
	}
)

var metricName = regexp.MustCompile(`\b(?:bcreg|jetstream)_[a-z0-9_]+\b`)

// checkMonitoring: alerts are well formed, and every series the alerts and
// the dashboard query exists (in the services' source, or the exporter's).
func checkMonitoring(t *testing.T, r *rendered) {
	alerts := map[string]bool{}
	for _, pr := range r.rules {
		for _, g := range pr.Spec.Groups {
			for _, rule := range g.Rules {
				id := "PrometheusRule " + pr.Name + " " + rule.Alert
				if rule.Alert == "" || rule.Expr == "" {
					t.Errorf("%s: every rule here is an alert with an expr", id)
					continue
				}
				if alerts[rule.Alert] {
					t.Errorf("%s: alert name used twice", id)
				}
				alerts[rule.Alert] = true
				if sev := rule.Labels["severity"]; sev != "warning" && sev != "critical" {
					t.Errorf("%s: severity %q, want warning or critical", id, sev)
				}
				if rule.Annotations["summary"] == "" || rule.Annotations["description"] == "" {
					t.Errorf("%s: summary and description annotations required", id)
				}
				if rule.For != "" {
					if _, err := time.ParseDuration(rule.For); err != nil {
						t.Errorf("%s: for %q: %v", id, rule.For, err)
					}
				}
				checkSeries(t, id, rule.Expr)
				checkRunbookURL(t, id, rule.Alert, rule.Annotations["runbook_url"])
				if rule.Alert == "BcregServiceDown" {
					// sum(up) == 0 has no series to compare when every
					// target is gone: absent() must cover each service.
					for _, svc := range []string{"event-poller", "credential-builder", "poster"} {
						if !strings.Contains(rule.Expr, `absent(up{job="`+svc+`"})`) {
							t.Errorf("%s: no absent(up{job=%q}): the alert cannot fire when no %s target exists", id, svc, svc)
						}
					}
				}
			}
		}
	}
	for _, want := range []string{"BcregConsumerLagGrowing", "BcregDeadLettersPresent", "BcregAgentUnhealthy", "BcregWatermarkStale", "BcregBuilderFailures", "BcregPosterTransientErrors"} {
		if !alerts[want] {
			t.Errorf("alert %s missing", want)
		}
	}

	var dashboards int
	for name, cm := range r.configMaps {
		if cm.Labels["grafana_dashboard"] == "" {
			continue
		}
		for key, text := range cm.Data {
			dashboards++
			if !strings.HasSuffix(key, ".json") {
				t.Errorf("ConfigMap %s: dashboard key %s should end in .json", name, key)
			}
			checkDashboard(t, name+"/"+key, text)
		}
	}
	if dashboards != 1 {
		t.Errorf("want one Grafana dashboard (ConfigMap labelled grafana_dashboard), got %d", dashboards)
	}
}

type dashboardPanel struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"`
}

func checkDashboard(t *testing.T, id, text string) {
	var d struct {
		UID    string           `json:"uid"`
		Title  string           `json:"title"`
		Panels []dashboardPanel `json:"panels"`
	}
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		t.Errorf("%s: not JSON: %v", id, err)
		return
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("%s: uid and title required (a stable uid keeps links working)", id)
	}
	var walk func([]dashboardPanel)
	queries := 0
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", id, p.Title)
			}
			for _, tg := range p.Targets {
				queries++
				checkSeries(t, id+" panel "+p.Title, tg.Expr)
			}
		}
	}
	walk(d.Panels)
	if queries == 0 {
		t.Errorf("%s: no queries", id)
	}
}

// checkSeries fails on a series name that no program or exporter exposes.
func checkSeries(t *testing.T, id, expr string) {
	t.Helper()
	defined := definedMetrics(t)
	for _, name := range metricName.FindAllString(expr, -1) {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if trimmed := strings.TrimSuffix(name, suffix); trimmed != name && contains(histograms, trimmed) {
				base = trimmed
			}
		}
		switch {
		case contains(exporterMetrics, base):
		case !contains(serviceMetrics, base):
			t.Errorf("%s: series %s is not one the services or the exporter expose", id, name)
		case !defined[base]:
			t.Errorf("%s: series %s is not defined in ../services or ../pkg (renamed?)", id, base)
		}
	}
}

var (
	definedOnce sync.Once
	definedSet  map[string]bool
)

// definedMetrics lists the metric names registered in the services'
// source and in the shared packages they run (the consume loop's per-stage
// series in pkg/bus).
func definedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	definedOnce.Do(func() {
		definedSet = map[string]bool{}
		name := regexp.MustCompile(`"(bcreg_[a-z0-9_]+)"`)
		for _, root := range []string{"../services", "../pkg"} {
			_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
					return err
				}
				src, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				for _, m := range name.FindAllSubmatch(src, -1) {
					definedSet[string(m[1])] = true
				}
				return nil
			})
		}
	})
	if len(definedSet) == 0 {
		t.Fatal("found no bcreg_ metric names in ../services")
	}
	return definedSet
}

// runbookBase is where the alerts' runbook_url point: the runbook's
// section of the alert, on the repository's main branch.
const runbookBase = "https://github.com/bcgov/bcreg-events/blob/main/docs/operations.md#"

// checkRunbookURL: an alert links its own section of docs/operations.md,
// and that section exists (GitHub's heading anchors).
func checkRunbookURL(t *testing.T, id, alert, url string) {
	t.Helper()
	anchor, ok := strings.CutPrefix(url, runbookBase)
	if !ok {
		t.Errorf("%s: runbook_url %q, want %s<section>", id, url, runbookBase)
		return
	}
	if anchor != headingAnchor(alert) {
		t.Errorf("%s: runbook_url points at #%s, want the alert's own section #%s", id, anchor, headingAnchor(alert))
	}
	if !runbookAnchors(t)[anchor] {
		t.Errorf("%s: docs/operations.md has no section #%s", id, anchor)
	}
}

var (
	anchorsOnce sync.Once
	anchors     map[string]bool
	notAnchor   = regexp.MustCompile(`[^a-z0-9 _-]`)
)

// headingAnchor is GitHub's anchor of a Markdown heading.
func headingAnchor(heading string) string {
	return strings.ReplaceAll(notAnchor.ReplaceAllString(strings.ToLower(strings.TrimSpace(heading)), ""), " ", "-")
}

func runbookAnchors(t *testing.T) map[string]bool {
	anchorsOnce.Do(func() {
		raw, err := os.ReadFile("../docs/operations.md")
		if err != nil {
			t.Fatal(err)
		}
		anchors = map[string]bool{}
		for _, line := range strings.Split(string(raw), "\n") {
			if h, ok := strings.CutPrefix(line, "#"); ok {
				anchors[headingAnchor(strings.TrimLeft(h, "#"))] = true
			}
		}
	})
	return anchors
}

// TestDLQAlertThreshold: BcregDLQFilling fires at 80% of the DLQ's limit,
// BCREG_JS_DLQ_MAX_BYTES as the manifests set it (else its default).
func TestDLQAlertThreshold(t *testing.T) {
	limit := int64(1 << 30) // pkg/bus's default
	for _, f := range []string{"k8s/base/config.env", "k8s/overlays/prod/config.env"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := regexp.MustCompile(`(?m)^BCREG_JS_DLQ_MAX_BYTES=(\d+)`).FindSubmatch(raw); m != nil {
			if limit, err = strconv.ParseInt(string(m[1]), 10, 64); err != nil {
				t.Fatal(err)
			}
		}
	}
	raw, err := os.ReadFile("k8s/base/monitoring/prometheusrule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`jetstream_stream_total_bytes{[^}]*stream_name="BCREG_DLQ"}\)+ > (\d+)`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("BcregDLQFilling: no threshold on BCREG_DLQ's bytes")
	}
	got, _ := strconv.ParseInt(string(m[1]), 10, 64)
	if want := limit * 8 / 10; got != want {
		t.Errorf("BcregDLQFilling threshold %d, want 80%% of BCREG_JS_DLQ_MAX_BYTES (%d) = %d", got, limit, want)
	}
}
