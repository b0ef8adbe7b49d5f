package source

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
