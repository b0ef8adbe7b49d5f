// Package sourcetest loads the BC Registries development fixture
// (pkg/testkit/fixture) into test databases: the whole file into a
// template database once, then one database per fixture group, copied from
// the template and stripped of the other groups' rows, as the original
// scenario tests loaded one sample into an empty database. Test code only.
package sourcetest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/testkit/fixture"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// FixtureTables are the source tables of dev_fixture.sql; each has the extra
// fixture_group column naming the sample a row came from.
var FixtureTables = []string{
	"corporation", "corp_state", "corp_name", "jurisdiction", "office", "address",
	"event", "filing", "corp_party", "tilma_involved", "conv_event",
}

// Template creates a database holding the whole development fixture and the
// code tables, and returns its name. Open no connection to it: it is used as
// a CREATE DATABASE template.
func Template(t testing.TB) string {
	t.Helper()
	u := testenv.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("sourcetest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if err := fixture.Load(ctx, conn); err != nil {
		t.Fatalf("sourcetest: %v", err)
	}
	return testenv.DatabaseName(u)
}

// WholeFixture creates a database with every fixture group and the code
// tables and returns its URL.
func WholeFixture(t testing.TB, template string) string {
	t.Helper()
	return testenv.CreateDatabaseFrom(t, template)
}

// GroupDatabase creates a database holding only the rows of one fixture
// group (plus the code tables) and returns its URL.
func GroupDatabase(t testing.TB, template, group string) string {
	t.Helper()
	u := testenv.CreateDatabaseFrom(t, template)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("sourcetest: connect: %v", err)
	}
	defer conn.Close(ctx)
	b := &pgx.Batch{}
	for _, table := range FixtureTables {
		b.Queue("DELETE FROM bc_registries."+table+" WHERE fixture_group IS DISTINCT FROM $1", group)
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		t.Fatalf("sourcetest: keep group %s: %v", group, err)
	}
	return u
}

// Expected is the oracle file of one profile: fixture group → corp_num →
// outcome.
type Expected map[string]map[string]Outcome

// Outcome is what the original produced for one corporation.
type Outcome struct {
	Credentials []ExpectedCredential `json:"credentials"`
	Error       string               `json:"error"`
}

// ExpectedCredential is one credential of an oracle file.
type ExpectedCredential struct {
	CredType              string  `json:"cred_type"`
	SchemaName            string  `json:"schema_name"`
	SchemaVersion         string  `json:"schema_version"`
	CredentialID          string  `json:"credential_id"`
	CorpState             string  `json:"corp_state"`
	InitialProcessSuccess *string `json:"initial_process_success"`
	CredentialJSON        string  `json:"credential_json"`
	CredentialHash        string  `json:"credential_hash"`
	CredentialReason      string  `json:"credential_reason"`
}

// LoadExpected reads the fixture's expected/<name> (e.g.
// "dev_expected_8bc273a.json").
func LoadExpected(t testing.TB, name string) Expected {
	t.Helper()
	data, err := fixture.Expected(name)
	if err != nil {
		t.Fatalf("sourcetest: %v", err)
	}
	var e Expected
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("sourcetest: %s: %v", name, err)
	}
	return e
}

// Groups returns the fixture groups in name order.
func (e Expected) Groups() []string {
	var gs []string
	for g := range e {
		gs = append(gs, g)
	}
	slices.Sort(gs)
	return gs
}

// CorpNums returns the corporations of a group in number order.
func (e Expected) CorpNums(group string) []string {
	var nums []string
	for n := range e[group] {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	return nums
}
