package eventdb

// When a credential may be posted is decided when its row is stored
// (credential.HoldDates, stored as not_before: the builder from the
// generator, adoption from the original's rule, migration 00005 for rows
// stored before). Every statement of pkg/eventdb's packages reads only the
// stored column, through DueSQL: a row is due once its not_before has passed, or when it
// has none.

// DueSQL is the SQL condition "the row of credential_log named alias (""
// for the unqualified table) may be posted now".
func DueSQL(alias string) string {
	col := "not_before"
	if alias != "" {
		col = alias + ".not_before"
	}
	return "(" + col + " IS NULL OR " + col + " <= now())"
}
