package microbench_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/devkit/synth"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// BenchmarkLoad measures snapshot assembly: one Load of 200 corporations
// (the builder's batch) from a database of 5,000 synthetic corporations
// with the production indexes, in both loader modes. An op is one batch.
func BenchmarkLoad(b *testing.B) {
	const corps, batch = 5000, 200
	pool, _ := testenv.NewPool(b)
	ctx := testenv.Context(b)
	if _, err := synth.Seed(ctx, pool, synth.Options{Corporations: corps, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	rows, _ := pool.Query(context.Background(), `SELECT corp_num FROM bc_registries.corporation ORDER BY corp_num`)
	nums, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		opts []sourcedb.Option
	}{
		{"history", nil},
		{"current-only", []sourcedb.Option{sourcedb.CurrentOnly()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			loader := sourcedb.NewLoader(pool, nil, bc.opts...)
			if _, err := loader.CodeTables(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			k := 0
			for b.Loop() {
				start := (k * batch) % (len(nums) - batch)
				k++
				if _, err := loader.Load(ctx, nums[start:start+batch]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(k*batch)/b.Elapsed().Seconds(), "corps/s")
		})
	}
}
