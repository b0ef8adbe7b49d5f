// Package source is the data model of the BC Registries (COLIN) database,
// schema bc_registries: its rows as the pipeline reads them, a corporation's
// Snapshot assembled from them, and the rules on a Snapshot.
//
// It is plain data and imports no database driver: every SQL read of the
// registry (the batch Loader, event discovery, Open) lives in package
// sourcedb, which fills a Rows and calls Assemble. So package credential,
// which generates from snapshots, stays pure, and a Snapshot can be built
// and tested without a database (docs/design/layout.md).
//
// A Snapshot is plain data: rows as they are stored (NULL columns are nil
// pointers), each record linked to its start and end events (and an event to
// its filing when it is a FILE event, to its conv_event row when it is a
// CONV* event) by Assemble, in an order that does not depend on the order the
// database returned the rows in (docs/design/registry.md §2). Rules that pick
// "the" row among several (current state, legal name, home jurisdiction) are
// methods on Snapshot so every profile applies them the same way. Generation
// itself lives in package credential.
//
// A full-history snapshot (docs/design/generation.md §3a) holds every
// record, ended ones included, with both ends of its FBO links;
// Snapshot.History dates those records as the history generator did
// (effective dates of events, the registration-date and data-conversion
// rules, fallbacks for missing events). A current-only snapshot holds what
// the 2018 pipeline read (current records and every state row), which serves
// the snapshot profile only.
package source
