package poster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// Replicas of the poster that post to one agent tell each other, over core
// NATS, that they do and what their probes measured
// (docs/design/poster.md, "Replicas share what they know").
//
// Each replica's Vegas estimate is its own share of the agent's queue (its
// limit × the relative latency increase, the same latency for all), so n
// replicas on the thresholds of one kept n times the queue: two posters
// kept 4 credentials waiting in a 40-slot agent where one kept 2 (96% of
// its capacity against 97.6%). Hearing n − 1 others, a replica scales its
// thresholds and its step by 1/n (shareLocked): together they keep the
// queue of one, and, each on equal thresholds, equal limits (Vegas's
// fairness). A replica that starts a probe on its own says so, and the
// others join it (limiter.heardProbeStart): probing alone, it would learn
// their queue as the no-load latency. A probe clearly faster than a
// replica's own of the same round is taken instead of it
// (limiter.heardProbe).
//
// Nothing durable: a message lost or late only leaves a replica on its own
// thresholds or its own probe for a moment, so core NATS (no stream, no
// storage) is enough, and a replica that stops is forgotten when its
// messages stop.

// peersSubject is where every replica tells the others about each agent.
const peersSubject = "bcreg.poster.peers"

const (
	// shareEvery is how often a replica says it posts to an agent.
	shareEvery = 500 * time.Millisecond
	// peerExpiry is how long a replica counts after its last message: a
	// few missed messages, then it is taken for gone.
	peerExpiry = 4 * shareEvery
)

// peerNews is one replica's message about one agent: it posts to it
// (every shareEvery), it stops (Leaving), a probe of it just began
// (ProbeStarted), or one just ended (Probe).
type peerNews struct {
	Replica      string     `json:"replica"`
	Agent        string     `json:"agent"`
	Leaving      bool       `json:"leaving,omitempty"`
	ProbeStarted bool       `json:"probe_started,omitempty"`
	Probe        *probeNews `json:"probe,omitempty"`
}

// probeNews is a probe's result: the agent's latency per unit of work at
// no load and its mean deviation, in seconds.
type probeNews struct {
	NoLoad float64 `json:"no_load_seconds"`
	Noise  float64 `json:"noise_seconds"`
}

// peerTable is the other replicas posting to one agent, by when they were
// last heard.
type peerTable struct {
	mu    sync.Mutex
	heard map[string]time.Time
}

// set records a replica heard at at, or forgets it when it leaves.
func (t *peerTable) set(replica string, leaving bool, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if leaving {
		delete(t.heard, replica)
		return
	}
	if t.heard == nil {
		t.heard = map[string]time.Time{}
	}
	t.heard[replica] = at
}

// count is the replicas heard within peerExpiry before now; it forgets
// the others.
func (t *peerTable) count(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	for r, at := range t.heard {
		if now.Sub(at) > peerExpiry {
			delete(t.heard, r)
		}
	}
	return len(t.heard)
}

// sharer tells the other replicas about this one's agents and hears
// theirs.
type sharer struct {
	nc      *nats.Conn
	log     *zap.Logger
	replica string
	agents  *agents
}

// run subscribes, then says every shareEvery that this replica posts to
// its agents, until ctx ends; on the way out it says it leaves,
// so the others take their whole thresholds back at once rather than
// after peerExpiry.
func (s *sharer) run(ctx context.Context) error {
	sub, err := s.nc.Subscribe(peersSubject, s.heard)
	if err != nil {
		return fmt.Errorf("share with peers: subscribe %s: %w", peersSubject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	t := time.NewTicker(shareEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.tellAll(true)
			return nil
		case <-t.C:
			s.tellAll(false)
		}
	}
}

// tellAll says this replica posts to each of its agents, or leaves them
// (a sharer exists only with adaptive limits).
func (s *sharer) tellAll(leaving bool) {
	for _, a := range s.agents.list {
		s.tell(peerNews{Replica: s.replica, Agent: a.name(), Leaving: leaving})
	}
}

// tellProbe tells the others that this replica began a probe of agent,
// or what its probe measured.
func (s *sharer) tellProbe(agent string, r probeResult) { s.tell(probeMessage(s.replica, agent, r)) }

// probeMessage is the news of a probe of agent by replica: begun, or
// ended with its result.
func probeMessage(replica, agent string, r probeResult) peerNews {
	if r.started {
		return peerNews{Replica: replica, Agent: agent, ProbeStarted: true}
	}
	return peerNews{Replica: replica, Agent: agent, Probe: &probeNews{NoLoad: r.noLoad.Seconds(), Noise: r.noise.Seconds()}}
}

// tell publishes m. A failed publish is only news missed: the next is due
// in shareEvery, and a probe's is one of many.
func (s *sharer) tell(m peerNews) {
	data, err := json.Marshal(m)
	if err == nil {
		err = s.nc.Publish(peersSubject, data)
	}
	if err != nil {
		s.log.Debug("telling the other poster replicas failed", zap.String("agent", m.Agent), zap.Error(err))
	}
}

// heard records another replica's news. A message that does not parse is
// logged and dropped: it carries no work, only a hint.
func (s *sharer) heard(msg *nats.Msg) {
	var m peerNews
	if err := json.Unmarshal(msg.Data, &m); err != nil || m.Replica == "" {
		s.log.Warn("ignoring a malformed message from another poster replica", zap.String("subject", msg.Subject),
			zap.ByteString("data", msg.Data[:min(len(msg.Data), 200)]), zap.Error(err))
		return
	}
	if m.Replica == s.replica {
		return
	}
	now := time.Now()
	for _, a := range s.agents.list {
		if a.name() != m.Agent {
			continue
		}
		a.limiter.peers.set(m.Replica, m.Leaving, now)
		if m.ProbeStarted {
			a.limiter.heardProbeStart()
		}
		if p := m.Probe; p != nil {
			a.limiter.heardProbe(m.Replica, time.Duration(p.NoLoad*float64(time.Second)), time.Duration(p.Noise*float64(time.Second)), now)
		}
	}
}
