// Package discovery holds the tests of pkg/eventdb/discovery that need a real PostgreSQL or NATS
// server (the test kit, pkg/testkit): watermark, seen events and future re-queues. They live in
// the test-only module pkg/test so that pkg's go.mod requires no test kit
// (docs/design/layout.md).
package discovery
