package source

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CorpType is a row of bc_registries.corp_type.
type CorpType struct {
	CorpTypCd string  `db:"corp_typ_cd" json:"corp_typ_cd"`
	ColinInd  *string `db:"colin_ind" json:"colin_ind"`
	CorpClass *string `db:"corp_class" json:"corp_class"`
	ShortDesc *string `db:"short_desc" json:"short_desc"`
	FullDesc  *string `db:"full_desc" json:"full_desc"`
}

// Class returns corp_class (BC, XPRO, FIRM, SOC, OT), "" when NULL.
func (t *CorpType) Class() string { return deref(t.CorpClass) }

// OpState is a row of bc_registries.corp_op_state: a state code and the
// operational state (ACT or HIS) it means.
type OpState struct {
	StateTypCd   string  `db:"state_typ_cd" json:"state_typ_cd"`
	OpStateTypCd *string `db:"op_state_typ_cd" json:"op_state_typ_cd"`
	ShortDesc    *string `db:"short_desc" json:"short_desc"`
	FullDesc     *string `db:"full_desc" json:"full_desc"`
}

// CodeDesc is a row of one of the other code tables: its code, the class
// column where the table has one (event_class, filing_typ_class) and the
// descriptions.
type CodeDesc struct {
	Code      string  `db:"code" json:"code"`
	Class     *string `db:"class" json:"class,omitempty"`
	ShortDesc *string `db:"short_desc" json:"short_desc"`
	FullDesc  *string `db:"full_desc" json:"full_desc"`
}

// CodeTables holds the nine bc_registries code tables, keyed by code. They
// are small and static: a Loader reads them once.
type CodeTables struct {
	CorpTypes         map[string]CorpType
	OpStates          map[string]OpState
	OfficeTypes       map[string]CodeDesc
	JurisdictionTypes map[string]CodeDesc
	PartyTypes        map[string]CodeDesc
	NameTypes         map[string]CodeDesc
	EventTypes        map[string]CodeDesc
	FilingTypes       map[string]CodeDesc
	XproTypes         map[string]CodeDesc
}

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
func loadCodeTables(ctx context.Context, q pgx.Tx) (*CodeTables, error) {
	ct := &CodeTables{}
	var err error
	if ct.CorpTypes, err = codeMap(ctx, q, "corp_type", qCorpTypes, func(r CorpType) string { return r.CorpTypCd }); err != nil {
		return nil, err
	}
	if ct.OpStates, err = codeMap(ctx, q, "corp_op_state", qOpStates, func(r OpState) string { return r.StateTypCd }); err != nil {
		return nil, err
	}
	for _, t := range []struct {
		table, sql string
		dst        *map[string]CodeDesc
	}{
		{"office_type", qOfficeTypes, &ct.OfficeTypes},
		{"jurisdiction_type", qJurisdictionTypes, &ct.JurisdictionTypes},
		{"party_type", qPartyTypes, &ct.PartyTypes},
		{"corp_name_type", qNameTypes, &ct.NameTypes},
		{"event_type", qEventTypes, &ct.EventTypes},
		{"filing_type", qFilingTypes, &ct.FilingTypes},
		{"xpro_type", qXproTypes, &ct.XproTypes},
	} {
		if *t.dst, err = codeMap(ctx, q, t.table, t.sql, func(r CodeDesc) string { return r.Code }); err != nil {
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
