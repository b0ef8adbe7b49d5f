// Package delivery holds the tests of pkg/eventdb/delivery that need a real PostgreSQL or NATS
// server (the test kit, pkg/testkit): the poster's claims, leases and outcomes. They live in
// the test-only module pkg/test so that pkg's go.mod requires no test kit
// (docs/design/layout.md).
package delivery
