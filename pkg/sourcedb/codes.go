package sourcedb

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/source"
)

const (
	qCorpTypes = `SELECT corp_typ_cd, colin_ind, corp_class, short_desc, full_desc
FROM bc_registries.corp_type WHERE corp_typ_cd IS NOT NULL`
	qOpStates = `SELECT state_typ_cd, op_state_typ_cd, short_desc, full_desc
FROM bc_registries.corp_op_state WHERE state_typ_cd IS NOT NULL`
	qOfficeTypes = `SELECT office_typ_cd AS code, NULL::text AS class, short_desc, full_desc
FROM bc_registries.office_type WHERE office_typ_cd IS NOT NULL`
	qJurisdictionTypes = `SELECT can_jur_typ_cd AS code, NULL::text AS class, short_desc, full_desc
FROM bc_registries.jurisdiction_type WHERE can_jur_typ_cd IS NOT NULL`
	qPartyTypes = `SELECT party_typ_cd AS code, NULL::text AS class, short_desc, full_desc
FROM bc_registries.party_type WHERE party_typ_cd IS NOT NULL`
	qNameTypes = `SELECT corp_name_typ_cd AS code, NULL::text AS class, short_desc, full_desc
FROM bc_registries.corp_name_type WHERE corp_name_typ_cd IS NOT NULL`
	qEventTypes = `SELECT event_typ_cd AS code, event_class AS class, short_desc, full_desc
FROM bc_registries.event_type WHERE event_typ_cd IS NOT NULL`
	qFilingTypes = `SELECT filing_typ_cd AS code, filing_typ_class AS class, short_desc, full_desc
FROM bc_registries.filing_type WHERE filing_typ_cd IS NOT NULL`
	qXproTypes = `SELECT xpro_typ_cd AS code, NULL::text AS class, short_desc, full_desc
FROM bc_registries.xpro_type WHERE xpro_typ_cd IS NOT NULL`
)

// loadCodeTables reads all nine code tables; a missing table is an error
// (the original's bulk cache failed the same way).
func loadCodeTables(ctx context.Context, q pgx.Tx) (*source.CodeTables, error) {
	ct := &source.CodeTables{}
	var err error
	if ct.CorpTypes, err = codeMap(ctx, q, "corp_type", qCorpTypes, func(r source.CorpType) string { return r.CorpTypCd }); err != nil {
		return nil, err
	}
	if ct.OpStates, err = codeMap(ctx, q, "corp_op_state", qOpStates, func(r source.OpState) string { return r.StateTypCd }); err != nil {
		return nil, err
	}
	for _, t := range []struct {
		table, sql string
		dst        *map[string]source.CodeDesc
	}{
		{"office_type", qOfficeTypes, &ct.OfficeTypes},
		{"jurisdiction_type", qJurisdictionTypes, &ct.JurisdictionTypes},
		{"party_type", qPartyTypes, &ct.PartyTypes},
		{"corp_name_type", qNameTypes, &ct.NameTypes},
		{"event_type", qEventTypes, &ct.EventTypes},
		{"filing_type", qFilingTypes, &ct.FilingTypes},
		{"xpro_type", qXproTypes, &ct.XproTypes},
	} {
		if *t.dst, err = codeMap(ctx, q, t.table, t.sql, func(r source.CodeDesc) string { return r.Code }); err != nil {
			return nil, err
		}
	}
	return ct, nil
}

// codeMap reads one code table into a map; the first row of a duplicated
// code wins.
func codeMap[T any](ctx context.Context, q pgx.Tx, table, sql string, key func(T) string) (map[string]T, error) {
	rows, _ := q.Query(ctx, sql)
	list, err := pgx.CollectRows(rows, pgx.RowToStructByName[T])
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", table, err)
	}
	m := make(map[string]T, len(list))
	for _, r := range list {
		if _, dup := m[key(r)]; !dup {
			m[key(r)] = r
		}
	}
	return m, nil
}
