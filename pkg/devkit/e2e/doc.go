// Package e2e holds the end-to-end and fault tests of the whole pipeline.
// They run the real binaries as processes (built by the test, or taken from
// BCREG_E2E_BIN, e.g. ./bin after `make build`) against a real PostgreSQL and
// an embedded NATS server, never importing a service's internal code.
package e2e
