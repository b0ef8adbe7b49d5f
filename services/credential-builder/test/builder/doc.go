// Package builder holds the credential-builder's tests that need the
// development kit: a real PostgreSQL for the registry and the event
// database, and an embedded NATS server. They drive the service black-box
// through its Run, Config and Hooks (services/credential-builder/internal/builder).
// The package's own unit tests, which need no kit, stay beside its code.
package builder
