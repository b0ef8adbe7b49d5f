// Package source reads the BC Registries (COLIN) database, schema
// bc_registries, read only.
//
// Its core is the batch snapshot loader: Loader.Load reads everything the
// credential generators need for hundreds of corporations at once with
// set-based queries (one round trip per table per batch, `= ANY($1)`), in one
// read-only REPEATABLE READ transaction, and assembles one Snapshot per
// corporation in memory, the way the original pipeline's bulk cache did
// (domain.md §1.4 Q5/Q6, §3.3). The nine code tables are read once per Loader
// and cached.
//
// A Snapshot is plain data: rows as they are stored (NULL columns are nil
// pointers), each record linked to its start event (and the event to its
// filing when it is a FILE event). Rules that pick "the" row among several
// (current state, legal name, home jurisdiction) are methods on Snapshot so
// every profile applies them the same way. Generation itself lives in package
// credential.
//
// The loader reads the current records a current-state profile needs
// (end_event_id IS NULL), plus every corp_state row (the status date walks
// the state history). The records carry their end event ids so a
// history-reading mode can be added without changing the model.
package source
