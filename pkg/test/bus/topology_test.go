package bus_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestTopologyCheck: Check changes nothing and tells a topology a service
// cannot run on (missing, or a stream of another kind) from limits that
// differ (drift, left alone).
func TestTopologyCheck(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prepare   func(t *testing.T, js jetstream.JetStream, topo bus.Topology)
		wantErr   string // in the error, which wraps ErrTopology ("" none)
		wantDrift []string
	}{
		{name: "applied", prepare: apply},
		{name: "nothing applied", prepare: func(*testing.T, jetstream.JetStream, bus.Topology) {},
			wantErr: "stream BCREG_EVENTS missing"},
		{name: "a work stream of another kind", prepare: func(t *testing.T, js jetstream.JetStream, topo bus.Topology) {
			apply(t, js, topo)
			ctx := testenv.Context(t)
			if err := js.DeleteStream(ctx, bus.StreamEvents); err != nil {
				t.Fatal(err)
			}
			sc := topo.Streams()[0]
			sc.Retention = jetstream.LimitsPolicy
			if _, err := js.CreateStream(ctx, sc); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "stream BCREG_EVENTS is Limits"},
		{name: "tuned with the nats CLI", prepare: func(t *testing.T, js jetstream.JetStream, topo bus.Topology) {
			apply(t, js, topo)
			sc := topo.Streams()[2] // BCREG_DLQ
			sc.MaxBytes = 2 << 30
			if _, err := js.UpdateStream(testenv.Context(t), sc); err != nil {
				t.Fatal(err)
			}
		}, wantDrift: []string{"stream BCREG_DLQ: max_bytes is 2147483648, the configuration says 1073741824"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testenv.NewNATS(t)
			_, js := n.Connect(t)
			topo := bus.DefaultTopology()
			tc.prepare(t, js, topo)
			drift, err := topo.Check(testenv.Context(t), js)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Check: %v", err)
			case tc.wantErr != "" && (!errors.Is(err, bus.ErrTopology) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Check: %v, want ErrTopology with %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantDrift, drift); diff != "" {
				t.Errorf("drift (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTopologyDescriptions: `nats stream info` and `nats consumer info`
// say what each stream and consumer is for.
func TestTopologyDescriptions(t *testing.T) {
	n := testenv.NewNATS(t)
	_, js := n.Connect(t)
	ctx := testenv.Context(t)
	topo := bus.DefaultTopology()
	apply(t, js, topo)
	for _, sc := range topo.Streams() {
		st, err := js.Stream(ctx, sc.Name)
		if err != nil {
			t.Fatal(err)
		}
		if d := st.CachedInfo().Config.Description; !strings.HasPrefix(d, "bcreg-events: ") {
			t.Errorf("stream %s: description %q", sc.Name, d)
		}
	}
	for stream, cc := range topo.Consumers() {
		c, err := js.Consumer(ctx, stream, cc.Durable)
		if err != nil {
			t.Fatal(err)
		}
		if d := c.CachedInfo().Config.Description; !strings.HasPrefix(d, "bcreg-events "+cc.Durable+": ") {
			t.Errorf("consumer %s: description %q", cc.Durable, d)
		}
	}
}

func apply(t *testing.T, js jetstream.JetStream, topo bus.Topology) {
	t.Helper()
	if err := topo.Apply(testenv.Context(t), js); err != nil {
		t.Fatal(err)
	}
}
