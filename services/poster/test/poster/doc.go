// Package poster holds the poster's tests that need the development kit: a
// real PostgreSQL for the event database, an embedded NATS server and
// vonx-sim (agentsim) as the agent. They drive the service black-box
// through its Config, New (with the option WithAbort) and Run, and read
// EventDBFailing and Limiters (services/poster/internal/poster); the
// BenchmarkAdaptiveConcurrency micro-benchmark is here too. The package's
// own unit tests, which need no kit, stay beside its code.
package poster
