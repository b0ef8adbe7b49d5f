package microbench_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/devkit/synth"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/source"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// BenchmarkGenerate measures generation alone: both profiles over the
// snapshots of 1,000 synthetic corporations (loaded once, full history),
// an initial load's parameters. An op is one corporation.
func BenchmarkGenerate(b *testing.B) {
	pool, _ := testenv.NewPool(b)
	ctx := testenv.Context(b)
	if _, err := synth.Seed(ctx, pool, synth.Options{Corporations: 1000, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	rows, _ := pool.Query(context.Background(), `SELECT corp_num FROM bc_registries.corporation ORDER BY corp_num`)
	nums, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	loader := sourcedb.NewLoader(pool, nil)
	var snaps []*source.Snapshot
	for chunk := range slices.Chunk(nums, 200) {
		batch, err := loader.Load(ctx, chunk)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range chunk {
			s, err := batch.Get(n)
			if err != nil {
				b.Fatal(err)
			}
			snaps = append(snaps, s)
		}
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	params := credential.FullRange(regevent.Through(now), now)
	for _, name := range []string{credential.ProfileSnapshot, credential.ProfileHistory} {
		b.Run(name, func(b *testing.B) {
			p, err := credential.New(name, credential.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			k, creds := 0, 0
			for b.Loop() {
				res, err := p.Generate(snaps[k%len(snaps)], params)
				if err != nil {
					b.Fatal(err)
				}
				k++
				creds += len(res.Credentials)
			}
			b.ReportMetric(float64(creds)/float64(k), "creds/corp")
		})
	}
}
