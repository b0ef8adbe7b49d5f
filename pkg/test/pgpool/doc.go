// Package pgpool holds the tests of pkg/pgpool that need a real PostgreSQL or NATS
// server (the test kit, pkg/testkit): opening pools against a real server. They live in
// the test-only module pkg/test so that pkg's go.mod requires no test kit
// (docs/design/layout.md).
package pgpool
