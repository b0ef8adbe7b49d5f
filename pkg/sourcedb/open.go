package sourcedb

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/pgpool"
)

// Open connects a pool to the registry database at url (read from setting,
// named with the password redacted in errors) and checks it answers. The
// registry is read only and has no schema of ours, so nothing is migrated.
func Open(ctx context.Context, url, setting string) (*pgxpool.Pool, error) {
	return pgpool.Open(ctx, url, setting, 0)
}
