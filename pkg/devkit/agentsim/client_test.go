package agentsim

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

func TestClient(t *testing.T) {
	t.Parallel()
	s, srv := startSim(t, Config{}, nil)
	// The agent URL works as the base: the control API is at the root.
	c := &Client{BaseURL: srv.URL + "/bcreg", HTTPClient: srv.Client()}
	ctx := context.Background()

	post(t, srv, "", oneGroup(3))
	got, err := c.Received(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Received(1), got); diff != "" {
		t.Errorf("Received (-sim +client):\n%s", diff)
	}

	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Stats(), st); diff != "" {
		t.Errorf("Stats (-sim +client):\n%s", diff)
	}

	f := s.Faults()
	f.ErrorRate = 1
	f.Latency = Normal(time.Millisecond, 0)
	f.Rejections = Rejections{{Schema: rel36, Timeout: true}}
	echoed, err := c.SetFaults(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f, echoed); diff != "" {
		t.Errorf("SetFaults reply (-sent +got):\n%s", diff)
	}
	read, err := c.Faults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Faults(), read); diff != "" {
		t.Errorf("Faults (-sim +client):\n%s", diff)
	}

	f.ErrorRate = 3
	if _, err := c.SetFaults(ctx, f); err == nil || !strings.Contains(err.Error(), "400 Bad Request: agentsim: SIM_ERROR_RATE") {
		t.Errorf("SetFaults with a bad rate: %v", err)
	}

	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Received(ctx, 0); err != nil || len(got) != 0 {
		t.Errorf("Received after Reset: %v, %v", got, err)
	}
}

func TestServeOnListener(t *testing.T) {
	t.Parallel()
	s, err := New(Config{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()

	c := &Client{BaseURL: "http://" + l.Addr().String()}
	if _, err := c.Stats(ctx); err != nil {
		t.Fatalf("Stats over a real listener: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Serve did not return within a minute of cancel")
	}
	if err := s.Serve(context.Background(), l); err == nil {
		t.Errorf("Serve after Close succeeded")
	}
}
