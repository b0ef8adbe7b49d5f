// Package agent holds the tests of the poster's agent client
// (services/poster/internal/agent) that need the development kit: the
// client against vonx-sim (agentsim). The package's own unit tests, which
// need no kit, stay beside its code.
package agent
