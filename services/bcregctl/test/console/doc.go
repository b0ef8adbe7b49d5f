// Package console holds the tests of the operator console that need the
// development kit: a real PostgreSQL for the registry and the event
// database, an embedded NATS server, and headless Chromium (at
// /usr/bin/chromium; the browser tests skip loudly without it). They drive
// the console black-box through console.New, Options, Sample, Samples and
// its HTTP handler (services/bcregctl/internal/console).
package console
