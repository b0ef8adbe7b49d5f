// Package poller holds the event-poller's tests that need the development
// kit: a real PostgreSQL for the registry fixture and the event database,
// and an embedded NATS server. They drive the service black-box through its
// Run, Config and Hooks (services/event-poller/internal/poller). The
// package's own unit tests, which need no kit, stay beside its code.
package poller
