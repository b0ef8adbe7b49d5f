// Package canonical holds the tests of pkg/credential/canonical that need a real PostgreSQL or NATS
// server (the test kit, pkg/testkit): canonical JSON against the original's bytes (the samples' expected credentials). They live in
// the test-only module pkg/test so that pkg's go.mod requires no test kit
// (docs/design/layout.md).
package canonical
