// Package credential holds the tests of pkg/credential that need a real PostgreSQL or NATS
// server (the test kit, pkg/testkit): the generators against the original's expected credentials and scenarios (samples in a real PostgreSQL). They live in
// the test-only module pkg/test so that pkg's go.mod requires no test kit
// (docs/design/layout.md).
package credential
