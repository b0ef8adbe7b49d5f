// Package daemon holds the tests of pkg/daemon that need a real PostgreSQL or NATS
// server (the test kit, pkg/testkit): the services' common frame with a real PostgreSQL and NATS. They live in
// the test-only module pkg/test so that pkg's go.mod requires no test kit
// (docs/design/layout.md).
package daemon
