// Package outbox holds the tests of pkg/outbox that need a real PostgreSQL
// and NATS server (the test kit, pkg/testkit): what the stream stores and
// the outbox records when bundles are published. They live in the
// test-only module pkg/test so that pkg's go.mod requires no test kit
// (docs/design/layout.md).
package outbox
