package builder

import (
	"context"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/outbox"
)

// publisher is how the builder publishes its outbox (outbox.Publisher):
// one bundle per corporation, or consecutive parts below the server's max
// payload, marked published with their stream sequence after the PubAcks.
func (s *service) publisher() outbox.Publisher {
	return outbox.Publisher{JS: s.js, Log: s.log, System: system, Profile: s.profile.Name(), MaxBytes: s.maxBytes,
		Backoff: s.cfg.Backoff, Timeout: s.cfg.PublishTimeout, AfterPublish: s.hooks.AfterPublish}
}

// publishBundles publishes rows and returns the corporations whose bundles
// are not all published and marked, with the reason.
func (s *service) publishBundles(ctx context.Context, q eventdb.Querier, rows []outboxdb.Row, states map[string]string, source string) map[string]error {
	p := s.publisher()
	res := p.PublishRows(ctx, q, rows, states, source)
	s.m.bundles.WithLabelValues(source).Add(float64(res.Bundles))
	s.m.tooLarge.Add(float64(res.TooLarge))
	return res.Failed
}
