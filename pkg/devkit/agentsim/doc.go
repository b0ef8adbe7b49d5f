// Package agentsim is the engine of vonx-sim: a simulator of the issuing agent
// that the BC Registries poster talks to. It is the only stand-in for the real
// agent in this project (development, end-to-end and load tests), so it
// reproduces the agent's HTTP contract case by case, as written down in
// docs/design/agent.md (conformance cases C1–C19, A1–A7 and P1–P3 of §6).
//
// # Modes
//
// In VON-X mode (the default, [ModeVonX]) the simulator answers like VON-X
// ≥ 1.4.0 behind the 2018 pipeline:
//
//   - POST /{issuer}/issue-credential and POST /issue-credential?connection_id=…,
//     in single mode (?schema=&version=, body = attribute object) and batch
//     mode (body = array of {schema, version, attributes}). Batch items are
//     grouped by (schema, version) in order of first appearance, the groups are
//     issued one after another and the reply rows are put back in input order.
//     Replies are byte-for-byte what aiohttp and Python's json module produce
//     (`{"success": true, "result": "…"}`, non-ASCII escaped), 400s are
//     text/plain with VON-X's exact message, a non-string schema or version is
//     a 500 with aiohttp's HTML page, and bodies of 1 MiB or more get aiohttp's
//     413.
//   - GET /health: 451 with an empty body while not synchronised, then 200 "ok".
//   - GET /status: the VON-X service status document.
//
// In controller mode ([ModeController]) it answers like the later aca-py issuer
// controller (bcreg-aca): POST /issue-credential and /issue-credential-v20
// (credentials issued one after another, Flask's compact sorted JSON, Werkzeug
// HTML error pages), GET /readiness, /health and /liveness, and
// {"error": "Not found"} for unknown paths.
//
// # Credential types
//
// Both schema sets are built in: the 2018 `*.bc_registries` 1.0.36 types and
// the later `*.registries.ca` 1.0.42 types (see [BuiltinSchemas]). An optional
// YAML file in the agent's own schemas.yml format (Config.SchemasFile) adds
// types or overrides built-in ones; its types are looked up first.
//
// # What is recorded
//
// Every credential the simulator issues is recorded once, in the order it was
// issued, with the attributes exactly as they arrived (GET /_sim/received,
// [Sim.Received]). Credentials answered with success:false (unknown schema,
// not synchronised, injected rejections) and credentials of requests refused
// as a whole (400, 500, overload, injected faults before issue) are not
// recorded; they are counted in [Stats]. Issued credentials keep the
// simulator's order of issue, which for a batch is group order (all items of
// the first (schema, version) group, then the next group), as the agent sends
// them to OrgBook. The recorded version is the configured version the
// credential was issued under, so a batch item without a version is recorded
// with the version it resolved to.
//
// Result ids are UUID-shaped strings made of a random per-instance prefix and
// a counter, so they are unique per issued credential, across [Sim.Reset] and
// across restarts of the process.
//
// # Realism and faults
//
// [Faults] holds everything that can be changed at run time (POST /_sim/faults,
// [Sim.SetFaults]): latency per store call ([Faults.Latency]) and per credential
// ([Faults.CredLatency]), the number of credentials issued concurrently
// ([Faults.Capacity], the agent's storage semaphore) with an overload model
// (queueing, a slowdown that grows with the queue, and a queue limit past
// which requests are refused or hang), a not-synchronised period, 5xx replies,
// hangs, dropped connections, non-JSON and short replies, and per-schema or
// per-attribute rejections reported as the agent reports them. Random choices
// come from generators seeded by Config.Seed.
//
// # Control API
//
// Under /_sim/ on the same listener, in both modes and whatever the faults:
//
//	GET  /_sim/received[?since=N]  {"received": [Received…], "total": N}, skipping the first N
//	GET  /_sim/stats               Stats
//	GET  /_sim/faults              Faults in effect
//	POST /_sim/faults              change the Faults fields present in the JSON body; returns the Faults in effect
//	POST /_sim/reset               clear the record and the counters; 204
//	POST /_sim/orgbook/drift       change the OrgBook view behind the issuer's back (Drift); 204
//	POST /_sim/orgbook/flush       write the OrgBook view's changes to its database now; 204
//
// # The OrgBook view
//
// Every issued credential of the three BC Registries types OrgBook BC maps
// (registration, business number, relationship) is also stored as OrgBook
// would store it: topics, credential sets, credentials with their latest and
// revoked flags, attributes, names and topic relationships, by OrgBook's
// rules (docs/design/orgbook.md). Reset leaves it alone, as it is OrgBook's
// state, not the agent's. The view answers OrgBook's read API under /api/
// (/api/v2/topic/ident/{type}/{source_id}/formatted,
// /api/v4/topic/{id}/credential-set, /api/v4/topic, /api/v4/credential-type)
// and, with Config.OrgBookDBURL, is written into OrgBook-shaped tables.
//
// Errors are {"error": "…"} with a 4xx status. /metrics serves Prometheus
// metrics prefixed bcreg_sim_ from the simulator's own registry. [Client] is a
// small Go client of the control API for tests that run vonx-sim as a separate
// process.
package agentsim
