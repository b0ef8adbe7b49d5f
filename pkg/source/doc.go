// Package source reads the BC Registries (COLIN) database, schema
// bc_registries, read only.
//
// Its core is the batch snapshot loader: Loader.Load reads everything the
// credential generators need for hundreds of corporations at once with
// set-based queries (one round trip per table per batch, `= ANY($1)`), in one
// read-only REPEATABLE READ transaction, and assembles one Snapshot per
// corporation in memory, the way the original pipeline's bulk cache did
// (docs/design/registry.md §2). The nine code tables are read once per Loader
// and cached.
//
// A Snapshot is plain data: rows as they are stored (NULL columns are nil
// pointers), each record linked to its start and end events (and an event to
// its filing when it is a FILE event, to its conv_event row when it is a
// CONV* event). Rules that pick "the" row among several (current state,
// legal name, home jurisdiction) are methods on Snapshot so every profile
// applies them the same way. Generation itself lives in package credential.
//
// By default the loader reads each corporation's full history
// (docs/design/generation.md §3a): every record, ended ones included, with both ends of its FBO
// links. Snapshot.History dates those records as the history generator did
// (effective dates of events, the registration-date and data-conversion
// rules, fallbacks for missing events). The CurrentOnly option reads what
// the 2018 pipeline read instead (current records and every state row),
// which serves the snapshot profile only.
package source
