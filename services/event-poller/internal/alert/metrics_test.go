package alert

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// TestSentBySeverity: the messages sent are counted by their severity, and
// the label says so (the webhook calls the field statusCode, which reads
// as an HTTP status in a query).
func TestSentBySeverity(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if mf.GetName() != "bcreg_alerts_sent_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName()+"="+l.GetValue())
			}
		}
	}
	want := []string{"severity=ERROR", "severity=INFO", "severity=WARNING"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bcreg_alerts_sent_total series (-want +got):\n%s", diff)
	}
}
