package poster_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// peersSubject is where poster replicas tell each other about agents.
const peersSubject = "bcreg.poster.peers"

// TestReplicasHearEachOther: two replicas posting to one agent hear each
// other (each counts two replicas and keeps half the queue), a malformed
// message is logged and changes nothing, and a replica that stops is
// forgotten at once (it says it leaves). The messages' bytes are a wire
// contract between replicas of different versions in a rolling upgrade:
// golden file.
func TestReplicasHearEachOther(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	nc, _ := e.nats.Connect(t)
	shares := make(chan *nats.Msg, 4096)
	sub, err := nc.ChanSubscribe(peersSubject, shares)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	cfgA := e.config("replica-a")
	a := e.start(cfgA)
	b := e.start(e.config("replica-b"))
	both := func() bool {
		for _, r := range []*running{a, b} {
			st := r.p.Limiters()[0]
			if st.Replicas != 2 || st.Share != 0.5 {
				return false
			}
		}
		return true
	}
	testenv.WaitFor(t, "each replica hears the other", both)

	eps, err := cfgA.Endpoints()
	if err != nil {
		t.Fatal(err)
	}
	// nextNews is the next share heard that contains part.
	nextNews := func(what, part string) []byte {
		t.Helper()
		guard := time.After(testenv.Guard)
		for {
			select {
			case m := <-shares:
				if bytes.Contains(m.Data, []byte(part)) {
					return m.Data
				}
			case <-guard:
				t.Fatalf("nothing after %v waiting for %s", testenv.Guard, what)
			}
		}
	}
	data := nextNews("a message of replica a", `"replica":"replica-a"`)
	golden(t, "peer_news.golden.json", bytes.ReplaceAll(data, []byte(eps[0].Name()), []byte("http://AGENT/bcreg")))

	if err := nc.Publish(peersSubject, []byte(`{"replica": 7`)); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the malformed share logged", func() bool {
		return e.logs.FilterMessage("ignoring a malformed message from another poster replica").Len() == 2
	})
	if !both() {
		t.Errorf("after a malformed share: %+v, %+v, want 2 replicas, half each", a.p.Limiters()[0], b.p.Limiters()[0])
	}

	// Stopped, b says it leaves, and a takes the whole thresholds back.
	b.stop()
	nextNews("replica b's leaving", `{"replica":"replica-b","agent":"`+eps[0].Name()+`","leaving":true}`)
	testenv.WaitFor(t, "the stopped replica forgotten", func() bool {
		st := a.p.Limiters()[0]
		return st.Replicas == 1 && st.Share == 1
	})
}
