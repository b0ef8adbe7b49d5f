// Package sourcedb reads the BC Registries (COLIN) database, schema
// bc_registries, read only: Open connects to it, Loader reads corporation
// snapshots in batches, and the Discover functions find the event-poller's
// events and corporations. Every SQL statement on the registry is here; the
// data model it fills (rows, Snapshot and their rules) is package source,
// which imports no database driver (docs/design/layout.md).
//
// Its core is the batch snapshot loader: Loader.Load reads everything the
// credential generators need for hundreds of corporations at once with
// set-based queries (one round trip per table per batch, `= ANY($1)`), in one
// read-only REPEATABLE READ transaction, and assembles one source.Snapshot
// per corporation in memory (source.Assemble), the way the original
// pipeline's bulk cache did (docs/design/registry.md §2). The nine code
// tables are read once per Loader and cached.
//
// By default the loader reads each corporation's full history
// (docs/design/generation.md §3a): every record, ended ones included, with
// both ends of its FBO links. The CurrentOnly option reads what the 2018
// pipeline read instead (current records and every state row), which serves
// the snapshot profile only.
package sourcedb
