// Package bus holds the tests of pkg/bus that need a real PostgreSQL or NATS
// server (the test kit, pkg/testkit): JetStream topology, publishing, the consume loop, dead letters, the reconciler (real embedded NATS). They live in
// the test-only module pkg/test so that pkg's go.mod requires no test kit
// (docs/design/layout.md).
package bus
