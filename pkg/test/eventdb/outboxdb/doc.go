// Package outboxdb holds the tests of pkg/eventdb/outboxdb that need a real PostgreSQL or NATS
// server (the test kit, pkg/testkit): the outbox's abandoned rows and Rearm. They live in
// the test-only module pkg/test so that pkg's go.mod requires no test kit
// (docs/design/layout.md).
package outboxdb
