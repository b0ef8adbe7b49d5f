// Package pipeline holds the tests of pkg/pipeline that need a real
// PostgreSQL or NATS server (the test kit, pkg/testkit): the figures of
// `bcregctl status`, the console and the alert rules read on a three-node
// JetStream cluster through whichever node answers. They live in the
// test-only module pkg/test so that pkg's go.mod requires no test kit
// (docs/design/layout.md).
package pipeline
