// Package operator holds the tests of pkg/eventdb/operator that need a real PostgreSQL or NATS
// server (the test kit, pkg/testkit): status figures and corporation history. They live in
// the test-only module pkg/test so that pkg's go.mod requires no test kit
// (docs/design/layout.md).
package operator
