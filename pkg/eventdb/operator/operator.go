package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
)

// Actor names the operator: $BCREG_OPERATOR, else the OS user and host.
func Actor() string {
	if a := os.Getenv("BCREG_OPERATOR"); a != "" {
		return a
	}
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// RecordAction records an action in operator_action and returns its id.
func RecordAction(ctx context.Context, db eventdb.Querier, action, target string, affected int64, detail any) (int64, error) {
	b, err := json.Marshal(detail)
	if err != nil {
		return 0, fmt.Errorf("record operator action: %w", err)
	}
	var id int64
	err = db.QueryRow(ctx, `INSERT INTO operator_action (actor, action, target, detail, affected)
		VALUES ($1, $2, $3, $4, $5) RETURNING record_id`, Actor(), action, target, b, affected).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record operator action %s: %w", action, err)
	}
	return id, nil
}
