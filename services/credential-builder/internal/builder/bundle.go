package builder

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
)

// bundle is one corporation's CredentialBundle, ready to publish.
type bundle struct {
	corp   string
	hashes []string
	out    bus.Outgoing
}

// makeBundles groups outbox rows (ordered by corporation, then record id)
// into one bundle per corporation. states overrides the stored corp_state
// with the one just generated. A row whose stored text cannot be read is a
// bug, not data: its corporation is reported in bad and retried.
func makeBundles(rows []eventdb.OutboxRow, states map[string]string, profile string) (bundles []bundle, bad map[string]error) {
	bad = map[string]error{}
	for start := 0; start < len(rows); {
		end := start
		for end < len(rows) && rows[end].CorpNum == rows[start].CorpNum {
			end++
		}
		b, err := makeBundle(rows[start:end], states, profile)
		if err != nil {
			bad[rows[start].CorpNum] = err
		} else {
			bundles = append(bundles, b)
		}
		start = end
	}
	return bundles, bad
}

func makeBundle(rows []eventdb.OutboxRow, states map[string]string, profile string) (bundle, error) {
	latest := rows[len(rows)-1]
	msg := messages.CredentialBundle{V: messages.Version, System: system, CorpNum: latest.CorpNum,
		CorpState: latest.CorpState, Profile: latest.Profile,
		Prev: ref(rows[0].Prev), Last: ref(rows[0].Last)}
	if st, ok := states[latest.CorpNum]; ok {
		msg.CorpState = st
	}
	if msg.Profile == "" {
		msg.Profile = profile
	}
	b := bundle{corp: latest.CorpNum}
	for _, r := range rows {
		// The bundle's range spans every credential it carries.
		if mark(ref(r.Prev)).Before(mark(msg.Prev)) {
			msg.Prev = ref(r.Prev)
		}
		if mark(msg.Last).Before(mark(ref(r.Last))) {
			msg.Last = ref(r.Last)
		}
		// Attributes travel as stored (the hashed text), value by value.
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.JSON), &raw); err != nil {
			return bundle{}, fmt.Errorf("credential %s of %s: stored text: %w", r.Hash, r.CorpNum, err)
		}
		attrs := make(map[string]any, len(raw))
		for k, v := range raw {
			attrs[k] = v
		}
		var eff string
		_ = json.Unmarshal(raw["effective_date"], &eff)
		msg.Credentials = append(msg.Credentials, messages.Credential{Hash: r.Hash, Type: r.Type,
			CredentialID: r.CredentialID, Schema: r.Schema, Version: r.Version, Attributes: attrs,
			Reason: r.Reason, EffectiveDate: eff})
		b.hashes = append(b.hashes, r.Hash)
	}
	data, err := messages.Encode(msg)
	if err != nil {
		return bundle{}, err
	}
	b.out = bus.Outgoing{Subject: bus.CredSubject(system, b.corp), MsgID: messages.BundleMsgID(b.hashes, ""),
		CorpNum: b.corp, Data: data}
	return b, nil
}

func ref(w eventdb.Watermark) messages.EventRef {
	return messages.EventRef{EventID: w.EventID, Date: messages.NewLocalTime(w.EventDate)}
}

// markTimeout bounds the marking of published credentials.
const markTimeout = 10 * time.Second

// publishBundles publishes one bundle per corporation of rows
// asynchronously, waits for every PubAck (at most PublishTimeout, even
// while shutting down, so a clean stop leaves little to the sweep), then
// marks the published credentials. It returns the corporations whose
// bundle is not published and marked, with the reason.
func (s *service) publishBundles(ctx context.Context, q eventdb.Querier, rows []eventdb.OutboxRow, states map[string]string, source string) map[string]error {
	bundles, failed := makeBundles(rows, states, s.profile.Name())
	for corp, err := range failed {
		s.log.Error("outbox row unreadable", zap.String("corp_num", corp), zap.Error(err))
	}
	if len(bundles) == 0 {
		return failed
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.PublishTimeout)
	defer cancel()
	outs := make([]bus.Outgoing, len(bundles))
	for i, b := range bundles {
		outs[i] = b.out
	}
	errs := bus.PublishAll(pctx, s.js, outs, s.cfg.Backoff)
	var hashes []string
	published := 0
	for i, b := range bundles {
		if errs[i] != nil {
			failed[b.corp] = fmt.Errorf("publish bundle of %s (id %s): %w", b.corp, b.out.MsgID, errs[i])
			continue
		}
		published++
		hashes = append(hashes, b.hashes...)
		s.log.Debug("bundle published", zap.String("corp_num", b.corp), zap.String("msg_id", b.out.MsgID),
			zap.Int("credentials", len(b.hashes)), zap.String("by", source))
	}
	if s.hooks.afterPublish != nil {
		if err := s.hooks.afterPublish(); err != nil {
			for _, b := range bundles {
				failed[b.corp] = err
			}
			return failed
		}
	}
	// Marking gets its own deadline: a publish round that waited out its
	// timeout on a full stream must not leave the accepted bundles unmarked.
	mctx, cancelMark := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancelMark()
	if err := eventdb.MarkPublished(mctx, q, hashes); err != nil {
		// Published but not marked: a retry republishes the same bundles
		// under the same ids, which the stream drops.
		for _, b := range bundles {
			if _, bad := failed[b.corp]; !bad {
				failed[b.corp] = err
			}
		}
		return failed
	}
	s.m.bundles.WithLabelValues(source).Add(float64(published))
	if n := len(bundles) - published; n > 0 {
		s.log.Warn("bundles not accepted by BCREG_CREDS; they stay in the outbox", zap.Int("bundles", n),
			zap.Int("published", published), zap.String("by", source))
	}
	return failed
}
