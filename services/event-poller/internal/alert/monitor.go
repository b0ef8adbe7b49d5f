package alert

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/pipeline"
)

// Store keeps the alerts' state across evaluations and owners.
type Store interface {
	Load(ctx context.Context) (map[string]operator.AlertState, error)
	Save(ctx context.Context, s operator.AlertState) error
}

// DBStore keeps the state in the event database's alert_state table.
type DBStore struct{ DB eventdb.Querier }

// Load reads every alert's state.
func (d DBStore) Load(ctx context.Context) (map[string]operator.AlertState, error) {
	return operator.AlertStates(ctx, d.DB)
}

// Save stores one alert's state.
func (d DBStore) Save(ctx context.Context, s operator.AlertState) error {
	return operator.SaveAlertState(ctx, d.DB, s)
}

// conditions are the keys that hold for a while and resolve (the others
// are growth counts and reported events).
var conditions = map[string]bool{KeyUnreachable: true, KeyQueue: true, KeyAgent: true, KeyWatermark: true, KeyAbandoned: true}

// Monitor evaluates the rules periodically and sends what is due.
type Monitor struct {
	cfg     Config
	n       *Notifier
	store   Store
	collect func(context.Context) pipeline.Report
	log     *zap.Logger
	now     func() time.Time

	mu     sync.Mutex
	states map[string]operator.AlertState
	loaded bool
}

// NewMonitor makes a monitor that reads the pipeline with collect.
func NewMonitor(cfg Config, log *zap.Logger, m *Metrics, store Store, collect func(context.Context) pipeline.Report) *Monitor {
	return &Monitor{cfg: cfg, n: NewNotifier(cfg, log.Named("alert"), m), store: store, collect: collect,
		log: log.Named("alert"), now: time.Now, states: map[string]operator.AlertState{}}
}

// Run sends queued messages and evaluates the rules every
// BCREG_ALERT_INTERVAL until ctx ends. Without a webhook it does nothing.
func (m *Monitor) Run(ctx context.Context) error {
	if !m.cfg.Enabled() {
		<-ctx.Done()
		return nil
	}
	go m.n.Run(ctx)
	t := time.NewTicker(m.cfg.AlertInterval)
	defer t.Stop()
	for {
		m.Check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Check runs one evaluation.
func (m *Monitor) Check(ctx context.Context) {
	f := m.collect(ctx)
	if ctx.Err() != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.load(ctx)
	m.apply(ctx, Evaluate(f, m.cfg.Thresholds()), len(f.Problems) == 0)
}

// Report sends an event a service observed (a failed poll), at most once
// per BCREG_ALERT_REPEAT per key unless it is more severe than the last.
func (m *Monitor) Report(ctx context.Context, key string, level Level, message string) {
	if !m.cfg.Enabled() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.load(ctx)
	st := m.states[key]
	now := m.now()
	if !st.SentAt.IsZero() && now.Sub(st.SentAt) < m.cfg.AlertRepeat && level >= ParseLevel(st.StatusCode) {
		return
	}
	m.send(ctx, operator.AlertState{Key: key, StatusCode: level.String(), Message: message, SentAt: now}, message)
}

// storeTimeout bounds a state read or write, so a hung event database
// delays an alert by seconds and never holds up the poller's cycle for
// long.
const storeTimeout = 5 * time.Second

func (m *Monitor) load(ctx context.Context) {
	if m.loaded {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	states, err := m.store.Load(ctx)
	if err != nil {
		m.log.Warn("alert state unreadable; starting afresh (some alerts may repeat)", zap.Error(err))
		return
	}
	m.states, m.loaded = states, true
}

// apply decides which findings to send: a new or escalated condition at
// once and again every AlertRepeat while it lasts; a grown count at most
// every AlertRepeat (with how much it grew); a condition gone as a
// resolution (INFO), judged only on a complete reading.
func (m *Monitor) apply(ctx context.Context, findings []Finding, complete bool) {
	now := m.now()
	present := map[string]bool{}
	for _, f := range findings {
		present[f.Key] = true
		st := m.states[f.Key]
		st.Key = f.Key
		if f.Growth {
			switch {
			case f.Count < st.LastValue:
				// Purged or expired: the count to grow from is lower now.
				st.LastValue = f.Count
				m.save(ctx, st)
			case f.Count == st.LastValue:
			case !st.SentAt.IsZero() && now.Sub(st.SentAt) < m.cfg.AlertRepeat:
				// It grew again: sent once the repeat interval is over,
				// with everything new since the last message.
			default:
				msg := fmt.Sprintf("%s (%d new since the last alert)", f.Message, f.Count-st.LastValue)
				m.send(ctx, operator.AlertState{Key: f.Key, StatusCode: f.Level.String(), LastValue: f.Count, Message: f.Message, SentAt: now}, msg)
			}
			continue
		}
		escalated := st.Active && f.Level < ParseLevel(st.StatusCode)
		if st.Active && !escalated && now.Sub(st.SentAt) < m.cfg.AlertRepeat {
			continue
		}
		m.send(ctx, operator.AlertState{Key: f.Key, StatusCode: f.Level.String(), Active: true, Message: f.Message, SentAt: now}, f.Message)
	}
	for key, st := range m.states {
		if !st.Active || present[key] || !conditions[key] || (!complete && key != KeyUnreachable) {
			continue
		}
		st.Active = false
		m.states[key] = st
		m.save(ctx, st)
		m.n.Notify(Info, "resolved: "+st.Message)
	}
}

// send notifies and records the state (even when the level filter drops
// the message: the condition was seen, and its resolution is tracked).
func (m *Monitor) send(ctx context.Context, st operator.AlertState, message string) {
	m.states[st.Key] = st
	m.save(ctx, st)
	m.n.Notify(ParseLevel(st.StatusCode), message)
}

func (m *Monitor) save(ctx context.Context, st operator.AlertState) {
	m.states[st.Key] = st
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := m.store.Save(ctx, st); err != nil {
		m.log.Warn("alert state not saved; a new active poller may repeat this alert", zap.String("alert", st.Key), zap.Error(err))
	}
}
