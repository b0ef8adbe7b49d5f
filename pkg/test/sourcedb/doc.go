// Package sourcedb holds the tests of pkg/sourcedb that need a real PostgreSQL or NATS
// server (the test kit, pkg/testkit): the registry reads: batch loader, selection, Open. They live in
// the test-only module pkg/test so that pkg's go.mod requires no test kit
// (docs/design/layout.md).
package sourcedb
