// Package eventdb holds the tests of pkg/eventdb that need a real PostgreSQL or NATS
// server (the test kit, pkg/testkit): migrations, advisory locks, lock order and the not_before backfill (real PostgreSQL). They live in
// the test-only module pkg/test so that pkg's go.mod requires no test kit
// (docs/design/layout.md).
package eventdb
