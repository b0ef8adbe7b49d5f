package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Found is what OrgBook holds of one topic: the latest registration
// credential's values, the latest business-number credential's number and
// the topics it is related to.
type Found struct {
	SourceID string
	// HasRegistration is false for a topic without a registration
	// credential (one created only as the target of a relationship).
	HasRegistration  bool
	EntityType       string
	Name             string
	EntityStatus     string
	RegistrationDate string
	HomeJurisdiction string
	BusinessNumber   string
	Related          []string
}

// OrgBook reads OrgBook's side.
type OrgBook interface {
	// Lookup returns the topics among sourceIDs that OrgBook has.
	Lookup(ctx context.Context, sourceIDs []string) (map[string]*Found, error)
	// Registered pages through every topic with a registration credential,
	// after the cursor; an empty page ends. (Named-corporation audits
	// through the API do not page.)
	Registered(ctx context.Context, after int64, limit int) (ids []string, next int64, err error)
}

// topicType is the type of BC Registries topics.
const topicType = "registration.registries.ca"

// Credential type descriptions (OrgBook's schema names).
const (
	descRegistration   = "registration.registries.ca"
	descBusinessNumber = "business_number.registries.ca"
)

// DB reads OrgBook's database (BCREG_ORGBOOK_DB_URL), read-only. The
// credential type ids are discovered by description, never assumed.
type DB struct {
	pool      *pgxpool.Pool
	reg, bn   int64
	hasBNType bool
}

// OpenDB discovers the credential types of the database behind pool.
func OpenDB(ctx context.Context, pool *pgxpool.Pool) (*DB, error) {
	d := &DB{pool: pool}
	rows, err := pool.Query(ctx, `SELECT id, description FROM credential_type WHERE description = ANY($1) ORDER BY id`,
		[]string{descRegistration, descBusinessNumber})
	if err != nil {
		return nil, fmt.Errorf("orgbook: credential types: %w", err)
	}
	found := false
	for rows.Next() {
		var id int64
		var desc string
		if err := rows.Scan(&id, &desc); err != nil {
			return nil, fmt.Errorf("orgbook: credential types: %w", err)
		}
		switch {
		case desc == descRegistration && !found:
			d.reg, found = id, true
		case desc == descBusinessNumber && !d.hasBNType:
			d.bn, d.hasBNType = id, true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("orgbook: credential types: %w", err)
	}
	if !found {
		return nil, errors.New("orgbook: no credential type " + descRegistration + " in credential_type: is BCREG_ORGBOOK_DB_URL OrgBook's database?")
	}
	return d, nil
}

// lookupSQL pivots, per topic, the latest registration credential's
// attributes and names and the latest business-number credential's number.
const lookupSQL = `
SELECT t.source_id, reg.id IS NOT NULL,
       coalesce(a.entity_type, ''), coalesce(n.assumed, n.legal, ''), coalesce(a.entity_status, ''),
       coalesce(a.registration_date, ''), coalesce(a.home_jurisdiction, ''), coalesce(bn.value, ''),
       coalesce((SELECT array_agg(rt.source_id ORDER BY rt.source_id) FROM topic_relationship r
                 JOIN topic rt ON rt.id = r.related_topic_id WHERE r.topic_id = t.id), '{}')
FROM topic t
LEFT JOIN LATERAL (SELECT c.id FROM credential c WHERE c.topic_id = t.id AND c.credential_type_id = $2 AND c.latest
                   ORDER BY c.effective_date DESC, c.id DESC LIMIT 1) reg ON true
LEFT JOIN LATERAL (SELECT max(value) FILTER (WHERE type = 'entity_type') AS entity_type,
                          max(value) FILTER (WHERE type = 'entity_status') AS entity_status,
                          max(value) FILTER (WHERE type = 'registration_date') AS registration_date,
                          max(value) FILTER (WHERE type = 'home_jurisdiction') AS home_jurisdiction
                   FROM attribute WHERE credential_id = reg.id) a ON true
LEFT JOIN LATERAL (SELECT max(text) FILTER (WHERE type = 'entity_name') AS legal,
                          max(text) FILTER (WHERE type = 'entity_name_assumed') AS assumed
                   FROM name WHERE credential_id = reg.id) n ON true
LEFT JOIN LATERAL (SELECT at.value FROM credential c JOIN attribute at ON at.credential_id = c.id AND at.type = 'business_number'
                   WHERE c.topic_id = t.id AND c.credential_type_id = $3 AND c.latest
                   ORDER BY c.effective_date DESC, c.id DESC LIMIT 1) bn ON true
WHERE t.type = $4 AND t.source_id = ANY($1)`

// Lookup implements OrgBook: one query per batch of ids.
func (d *DB) Lookup(ctx context.Context, sourceIDs []string) (map[string]*Found, error) {
	bn := d.bn
	if !d.hasBNType {
		bn = -1
	}
	rows, err := d.pool.Query(ctx, lookupSQL, sourceIDs, d.reg, bn, topicType)
	if err != nil {
		return nil, fmt.Errorf("orgbook: read topics: %w", err)
	}
	defer rows.Close()
	out := make(map[string]*Found, len(sourceIDs))
	for rows.Next() {
		f := &Found{}
		if err := rows.Scan(&f.SourceID, &f.HasRegistration, &f.EntityType, &f.Name, &f.EntityStatus,
			&f.RegistrationDate, &f.HomeJurisdiction, &f.BusinessNumber, &f.Related); err != nil {
			return nil, fmt.Errorf("orgbook: read topics: %w", err)
		}
		f.Related = slices.Compact(f.Related)
		out[f.SourceID] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("orgbook: read topics: %w", err)
	}
	return out, nil
}

// Registered implements OrgBook: keyset paging by topic id.
func (d *DB) Registered(ctx context.Context, after int64, limit int) ([]string, int64, error) {
	rows, err := d.pool.Query(ctx, `SELECT t.id, t.source_id FROM topic t
WHERE t.type = $1 AND t.id > $2 AND EXISTS (SELECT 1 FROM credential c WHERE c.topic_id = t.id AND c.credential_type_id = $3)
ORDER BY t.id LIMIT $4`, topicType, after, d.reg, limit)
	if err != nil {
		return nil, after, fmt.Errorf("orgbook: list topics: %w", err)
	}
	defer rows.Close()
	var ids []string
	next := after
	for rows.Next() {
		var s string
		if err := rows.Scan(&next, &s); err != nil {
			return nil, after, fmt.Errorf("orgbook: list topics: %w", err)
		}
		ids = append(ids, s)
	}
	if err := rows.Err(); err != nil {
		return nil, after, fmt.Errorf("orgbook: list topics: %w", err)
	}
	return ids, next, nil
}
