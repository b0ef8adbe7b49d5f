package testenv

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS is an embedded NATS server with JetStream on a random loopback port.
type NATS struct {
	Server   *server.Server
	StoreDir string
}

// URL is the client URL of the server.
func (n *NATS) URL() string { return n.Server.ClientURL() }

// NATSOption changes the embedded server's options before it starts.
type NATSOption func(*server.Options)

// WithMaxPayload sets the server's max_payload, so tests reach the size
// limits with small messages.
func WithMaxPayload(n int32) NATSOption {
	return func(o *server.Options) { o.MaxPayload = n }
}

// NewNATS starts an embedded NATS server with JetStream and a temporary file
// store; it is shut down when the test ends.
func NewNATS(t testing.TB, opts ...NATSOption) *NATS {
	t.Helper()
	return StartNATS(t, t.TempDir(), -1, opts...)
}

// StartNATS starts an embedded server on storeDir and port (-1 for a random
// one); tests that restart the server pass the same directory and port.
func StartNATS(t testing.TB, storeDir string, port int, options ...NATSOption) *NATS {
	t.Helper()
	opts := &server.Options{
		ServerName: "bcreg-test",
		Host:       "127.0.0.1",
		Port:       port,
		HTTPHost:   "127.0.0.1",
		HTTPPort:   -1,
		JetStream:  true,
		StoreDir:   storeDir,
		NoLog:      true,
		NoSigs:     true,
	}
	for _, o := range options {
		o(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("testenv: nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(time.Minute) {
		t.Fatal("testenv: nats server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return &NATS{Server: s, StoreDir: storeDir}
}

// Connect opens a client connection and a JetStream handle, closed when the
// test ends.
func (n *NATS) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatalf("testenv: nats connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testenv: jetstream: %v", err)
	}
	return nc, js
}

// StreamMessages reads every message a stream still stores, in sequence
// order (acked or deleted sequences of a work queue are skipped).
func StreamMessages(t testing.TB, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := Context(t)
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("testenv: stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("testenv: stream %s info: %v", stream, err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("testenv: stream %s seq %d: %v", stream, seq, err)
		}
		out = append(out, m)
	}
	return out
}

// Exhaust takes the next message of a durable pull consumer and Naks it on
// every delivery until the server stops delivering it (MaxDeliver used
// up): no message is in flight or waiting any more. It returns the stream
// sequence of the message.
func Exhaust(t testing.TB, js jetstream.JetStream, stream, consumer string) uint64 {
	t.Helper()
	ctx := Context(t)
	cons, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		t.Fatalf("testenv: consumer %s/%s: %v", stream, consumer, err)
	}
	var seq uint64
	deadline := time.Now().Add(Guard)
	for time.Now().Before(deadline) {
		mb, err := cons.FetchNoWait(1)
		if err != nil {
			t.Fatalf("testenv: pull %s/%s: %v", stream, consumer, err)
		}
		got := false
		for m := range mb.Messages() {
			md, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			if seq != 0 && md.Sequence.Stream != seq {
				t.Fatalf("testenv: exhausting seq %d, got seq %d", seq, md.Sequence.Stream)
			}
			seq, got = md.Sequence.Stream, true
			if err := m.Nak(); err != nil {
				t.Fatal(err)
			}
		}
		if got {
			continue
		}
		if seq != 0 {
			// Nothing came: the Nak may not be applied yet, or the server gave up.
			ci, err := cons.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ci.NumAckPending == 0 && ci.NumPending == 0 {
				return seq
			}
		}
		time.Sleep(pollPause)
	}
	t.Fatalf("testenv: %s/%s still delivers seq %d", stream, consumer, seq)
	return 0
}
