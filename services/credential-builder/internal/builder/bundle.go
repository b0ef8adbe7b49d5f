package builder

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/outbox"
)

// markTimeout bounds the marking of published credentials.
const markTimeout = 10 * time.Second

// publishBundles publishes one bundle per corporation of rows
// asynchronously, waits for every PubAck (at most PublishTimeout, even
// while shutting down, so a clean stop leaves little to the sweep), then
// marks the published credentials. It returns the corporations whose
// bundle is not published and marked, with the reason.
func (s *service) publishBundles(ctx context.Context, q eventdb.Querier, rows []eventdb.OutboxRow, states map[string]string, source string) map[string]error {
	bundles, failed := outbox.Bundles(system, rows, outbox.Options{States: states, Profile: s.profile.Name()})
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
		outs[i] = b.Msg
	}
	errs := bus.PublishAll(pctx, s.js, outs, s.cfg.Backoff)
	var hashes []string
	published := 0
	for i, b := range bundles {
		if errs[i] != nil {
			failed[b.CorpNum] = fmt.Errorf("publish bundle of %s (id %s): %w", b.CorpNum, b.Msg.MsgID, errs[i])
			continue
		}
		published++
		hashes = append(hashes, b.Hashes...)
		s.log.Debug("bundle published", zap.String("corp_num", b.CorpNum), zap.String("msg_id", b.Msg.MsgID),
			zap.Int("credentials", len(b.Hashes)), zap.String("by", source))
	}
	if s.hooks.afterPublish != nil {
		if err := s.hooks.afterPublish(); err != nil {
			for _, b := range bundles {
				failed[b.CorpNum] = err
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
			if _, bad := failed[b.CorpNum]; !bad {
				failed[b.CorpNum] = err
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
