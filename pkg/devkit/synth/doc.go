// Package synth writes synthetic BC Registries (COLIN) data into a source
// database for load tests and benchmarks at registry scale: N corporations
// shaped like the real registry (docs/design/registry.md §1, the development fixture),
// deterministic for a seed, written with PostgreSQL COPY in one transaction.
//
// Shapes follow the registry: about half the corporations are firms (SP, GP,
// MF) and the rest BC companies, ULCs, extra-provincials with their home
// jurisdictions, continued-in companies, LLCs, limited partnerships,
// societies and a few types no profile has in scope. Each corporation has 5
// to 40 events: its incorporation or registration (a CONV* event of
// 2004-03-26 20:36 with a conv_event row when it predates COLIN, as the data
// conversion left them), annual reports, name changes (numbered names, NOALA
// and the type-changing NOALU/NOALB alterations, assumed AS and translated
// TR names), office moves (NOCAD, with delivery and mailing addresses),
// dissolution stages (SYSD1/D1F, D2F, dissolved HDF/HDO/RCF), liquidations,
// amalgamations and withdrawals, and for firms their firm business owners
// (FBO rows naming companies of the same data set, some firms with two).
//
// Synthetic rows carry fixture_group = 'synthetic' and numbers that cannot
// meet the development fixture's: every corporation number is a type prefix
// (none for BC companies) followed by 9 and eight digits, one more digit than
// real COLIN numbers; event, address and party ids start at 1,000,000,000.
// Seed refuses a database that already holds synthetic corporations; Append
// then adds new events "now" to them, for ongoing-mode runs.
//
// The schema (the fixture's table definitions) and the code tables (the
// fixture's, pkg/testkit/fixture) are created when missing, and the
// indexes a production registry has on corp_num, event_id, event_timestmp,
// addr_id and bus_company_num after the bulk load.
package synth
