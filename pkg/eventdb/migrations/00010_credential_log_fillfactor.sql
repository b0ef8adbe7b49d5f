-- +goose Up
-- Room on each credential_log page for the updates of its own rows
-- (docs/design/registry.md §4). A credential is inserted, then marked
-- published, claimed and marked with the agent's answer; with full pages
-- (the default fillfactor 100) every one of those updates moved the row to
-- another page and added an entry to each index, at a random place of the
-- hash and corp_num indexes: at a million corporations, where those
-- indexes no longer fit in shared_buffers, that made posting cost 1.4x per
-- credential what it cost at 100,000. With room left, an update stays on
-- its page, and a claim (claimed_by and claimed_until are in no index)
-- becomes a HOT update that touches no index at all. Rows are about 700
-- bytes: 70 leaves room for three new versions per page. It applies to
-- pages filled from now on.
ALTER TABLE credential_log SET (fillfactor = 70);

-- +goose Down
ALTER TABLE credential_log RESET (fillfactor);
