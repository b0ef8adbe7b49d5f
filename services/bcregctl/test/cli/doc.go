// Package cli holds the tests of `bcregctl`'s commands that need the
// development kit: a real PostgreSQL for the registry and the event
// database, and an embedded NATS server. They run the commands black-box
// through cli.Run (services/bcregctl/internal/cli), with the BCREG_
// variables pointing at those servers, as an operator would.
// The package's own unit tests, which need no kit, stay beside its code.
package cli
