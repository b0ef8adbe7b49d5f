// Package adopt holds the tests of pkg/eventdb/adopt that need a real PostgreSQL or NATS
// server (the test kit, pkg/testkit): adoption of the original's database, in its own layouts. They live in
// the test-only module pkg/test so that pkg's go.mod requires no test kit
// (docs/design/layout.md).
package adopt
