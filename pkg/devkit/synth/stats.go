package synth

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Querier is what Stats needs: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Shape is the statistics of the synthetic data in a database: what the
// tests check and the benchmark reports quote.
type Shape struct {
	Corporations int            `json:"corporations"`
	Types        map[string]int `json:"types"`
	// Firms counts the SP, GP and MF firms.
	Firms int `json:"firms"`

	Events      int            `json:"events"`
	MinEvents   int            `json:"min_events_per_corp"`
	MaxEvents   int            `json:"max_events_per_corp"`
	MeanEvents  float64        `json:"mean_events_per_corp"`
	EventTypes  map[string]int `json:"event_types"`
	FilingTypes map[string]int `json:"filing_types"`
	// ConversionEvents counts the CONV* events of 2004-03-26, ConvEventRows
	// their conv_event rows.
	ConversionEvents int `json:"conversion_events"`
	ConvEventRows    int `json:"conv_event_rows"`

	// CurrentStates counts corporations by current state code, Historical
	// those whose current operational state is HIS; StateRows counts every
	// state row by code.
	CurrentStates map[string]int `json:"current_states"`
	Historical    int            `json:"historical"`
	StateRows     map[string]int `json:"state_rows"`

	// NameChanges counts corporations with more than one legal name;
	// Numbered, Assumed and Translated those with an NB, AS and TR name.
	NameChanges int `json:"name_changes"`
	Numbered    int `json:"numbered_names"`
	Assumed     int `json:"assumed_names"`
	Translated  int `json:"translated_names"`

	// HomeJurisdictions counts current jurisdiction rows by code.
	HomeJurisdictions map[string]int `json:"home_jurisdictions"`
	// Offices counts current offices by type; Addresses every address.
	Offices   map[string]int `json:"current_offices"`
	Addresses int            `json:"addresses"`

	// OwnedFirms counts firms with a current FBO owner, TwoOwners those
	// with two; FBORows every FBO row, ended ones included.
	OwnedFirms int `json:"owned_firms"`
	TwoOwners  int `json:"firms_with_two_owners"`
	FBORows    int `json:"fbo_rows"`
	// WithBN counts corporations with a business number.
	WithBN int `json:"with_business_number"`
}

// Stats reads the shape of the synthetic data in the database.
func Stats(ctx context.Context, q Querier) (*Shape, error) {
	s := &Shape{}
	scalars := []struct {
		sql  string
		dest []any
	}{
		{`SELECT count(*), count(*) FILTER (WHERE corp_typ_cd IN ('SP','GP','MF')), count(*) FILTER (WHERE coalesce(bn_9, '') <> '')
FROM bc_registries.corporation WHERE fixture_group = $1`, []any{&s.Corporations, &s.Firms, &s.WithBN}},
		{`SELECT coalesce(sum(n), 0), coalesce(min(n), 0), coalesce(max(n), 0), coalesce(avg(n), 0)::float8
FROM (SELECT count(*) AS n FROM bc_registries.event WHERE fixture_group = $1 GROUP BY corp_num) e`,
			[]any{&s.Events, &s.MinEvents, &s.MaxEvents, &s.MeanEvents}},
		{`SELECT count(*) FROM bc_registries.event
WHERE fixture_group = $1 AND event_typ_cd LIKE 'CONV%' AND event_timestmp::date = DATE '2004-03-26'`, []any{&s.ConversionEvents}},
		{`SELECT count(*) FROM bc_registries.conv_event WHERE fixture_group = $1`, []any{&s.ConvEventRows}},
		{`SELECT count(*) FROM bc_registries.address WHERE fixture_group = $1`, []any{&s.Addresses}},
		{`SELECT count(*) FILTER (WHERE legal > 1), count(*) FILTER (WHERE nb > 0), count(*) FILTER (WHERE assumed > 0),
       count(*) FILTER (WHERE translated > 0)
FROM (SELECT count(*) FILTER (WHERE corp_name_typ_cd IN ('CO','NB')) AS legal, count(*) FILTER (WHERE corp_name_typ_cd = 'NB') AS nb,
             count(*) FILTER (WHERE corp_name_typ_cd = 'AS') AS assumed, count(*) FILTER (WHERE corp_name_typ_cd = 'TR') AS translated
      FROM bc_registries.corp_name WHERE fixture_group = $1 GROUP BY corp_num) n`,
			[]any{&s.NameChanges, &s.Numbered, &s.Assumed, &s.Translated}},
		{`SELECT count(*) FILTER (WHERE owners >= 1), count(*) FILTER (WHERE owners >= 2), coalesce(sum(rows), 0)
FROM (SELECT count(*) FILTER (WHERE end_event_id IS NULL) AS owners, count(*) AS rows
      FROM bc_registries.corp_party WHERE fixture_group = $1 AND party_typ_cd = 'FBO' GROUP BY corp_num) p`,
			[]any{&s.OwnedFirms, &s.TwoOwners, &s.FBORows}},
		{`SELECT count(*) FROM bc_registries.corp_state s JOIN bc_registries.corp_op_state o ON o.state_typ_cd = s.state_typ_cd
WHERE s.fixture_group = $1 AND s.end_event_id IS NULL AND o.op_state_typ_cd = 'HIS'`, []any{&s.Historical}},
	}
	for _, q1 := range scalars {
		if err := q.QueryRow(ctx, q1.sql, Group).Scan(q1.dest...); err != nil {
			return nil, fmt.Errorf("synthetic data stats: %w", err)
		}
	}
	counts := []struct {
		sql  string
		dest *map[string]int
	}{
		{`SELECT corp_typ_cd, count(*) FROM bc_registries.corporation WHERE fixture_group = $1 GROUP BY 1`, &s.Types},
		{`SELECT event_typ_cd, count(*) FROM bc_registries.event WHERE fixture_group = $1 GROUP BY 1`, &s.EventTypes},
		{`SELECT filing_typ_cd, count(*) FROM bc_registries.filing WHERE fixture_group = $1 GROUP BY 1`, &s.FilingTypes},
		{`SELECT state_typ_cd, count(*) FROM bc_registries.corp_state WHERE fixture_group = $1 AND end_event_id IS NULL GROUP BY 1`, &s.CurrentStates},
		{`SELECT state_typ_cd, count(*) FROM bc_registries.corp_state WHERE fixture_group = $1 GROUP BY 1`, &s.StateRows},
		{`SELECT CASE WHEN can_jur_typ_cd = 'OT' THEN 'OT ' || coalesce(othr_juris_desc, '(null)') ELSE can_jur_typ_cd END, count(*)
FROM bc_registries.jurisdiction WHERE fixture_group = $1 AND end_event_id IS NULL GROUP BY 1`, &s.HomeJurisdictions},
		{`SELECT office_typ_cd, count(*) FROM bc_registries.office WHERE fixture_group = $1 AND end_event_id IS NULL GROUP BY 1`, &s.Offices},
	}
	for _, c := range counts {
		rows, _ := q.Query(ctx, c.sql, Group)
		m := map[string]int{}
		var k string
		var v int
		_, err := pgx.ForEachRow(rows, []any{&k, &v}, func() error {
			m[k] = v
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("synthetic data stats: %w", err)
		}
		*c.dest = m
	}
	return s, nil
}
