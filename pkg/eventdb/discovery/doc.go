// Package discovery is the event-poller's state in the event database
// (docs/design/registry.md §4; docs/design/rules.md rules 2 and 3): the
// watermark (last_event), the events already seen within the look-back
// (event_seen), the corporations to re-process when a future-dated event
// comes due (future_requeue) and the runs of the initial load
// (initial_load).
//
// Its callers: the event-poller (each poll, the future re-queues, the
// start-up without an initial load), pkg/initload (the initial load's
// runs, also run by `bcregctl initial-load`), the credential-builder's batch
// write (future re-queues, through pkg/eventdb/outboxdb), adoption
// (pkg/eventdb/adopt) and the status figures (pkg/eventdb/operator).
package discovery
