package builder_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/credential-builder/internal/builder"
)

// BenchmarkBuilderInitialLoad measures the builder's throughput on an
// initial load: the development fixture cloned 40 times (about 2,100
// corporations), one CorpEvent each, two workers of 200-message batches;
// from publishing the CorpEvents to the last ack, with every credential
// stored and every bundle published, per profile. It reports corporations
// per second.
func BenchmarkBuilderInitialLoad(b *testing.B) {
	for _, profile := range []string{credential.ProfileSnapshot, credential.ProfileHistory} {
		b.Run(profile, func(b *testing.B) { benchInitialLoad(b, profile) })
	}
}

func benchInitialLoad(b *testing.B, profile string) {
	e := newEnv(b)
	e.profile = profile
	sourcetest.Clone(b, e.srcURL, 40, false)
	corps := e.fixtureCorps()
	e.start(e.config(), builder.Hooks{})
	ctx := testenv.Context(b)
	creds, err := e.js.Stream(ctx, bus.StreamCreds)
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		if _, err := e.edb.Exec(ctx, `TRUNCATE credential_log, event_by_corp_filing, corp_history_log`); err != nil {
			b.Fatal(err)
		}
		if err := creds.Purge(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		e.publishEvents(fmt.Sprintf("bench%d:BC_REG", i), messages.ReasonInitialLoad, corps)
		e.waitDrained(5 * time.Minute)
		total += time.Since(start)
	}
	b.ReportMetric(float64(len(corps)*b.N)/total.Seconds(), "corps/s")
	for _, l := range e.logs.FilterMessage("batch phases").All() {
		b.Log(l.ContextMap())
	}
	b.ReportMetric(float64(len(corps)), "corps/op")
}
