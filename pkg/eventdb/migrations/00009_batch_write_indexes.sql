-- +goose Up
-- Fewer indexes for the builder's batch write to maintain
-- (pkg/eventdb/outboxdb, WriteBatch; docs/design/poller-builder.md, "A
-- batch", step 4).
--
-- The builder compares each new snapshot with its corporation's latest
-- logged one: chl_corp_hash, with the hash in it, answers that for a whole
-- batch from the index, and replaces the two indexes on corp_num
-- (chl_corp, chl_corp_ri) every snapshot insert maintained. Retention's "a
-- newer row of the corporation" and the operators' deletions by corp_num
-- use it as they used chl_corp_ri.
CREATE INDEX IF NOT EXISTS chl_corp_hash ON corp_history_log (corp_num, record_id DESC) INCLUDE (corp_json_hash);
DROP INDEX IF EXISTS chl_corp_ri;
DROP INDEX IF EXISTS chl_corp;
-- cl_unpublished (record_id) held the same rows as cl_unpublished_corp
-- (corp_num, record_id), which serves every statement on unpublished rows
-- (the outbox by corporation, the sweep, the backlog count).
DROP INDEX IF EXISTS cl_unpublished;
-- cl_ps_pd_desc serves the statements on processed rows (a status, by
-- process_date: the operators' counts and recent errors). Outstanding rows
-- (no status) leave it: a new credential and its publish mark maintain one
-- index less, and the statements on outstanding rows, planned on
-- statistics gathered before an initial load's batches, no longer take it
-- for "few outstanding rows" and read every outstanding row of the table
-- for a batch's corporations (they use the corp_num indexes).
DROP INDEX IF EXISTS cl_ps_pd_desc;
CREATE INDEX cl_ps_pd_desc ON credential_log (process_success, process_date DESC) WHERE process_success IS NOT NULL;

-- +goose Down
DROP INDEX IF EXISTS cl_ps_pd_desc;
CREATE INDEX cl_ps_pd_desc ON credential_log (process_success, process_date DESC);
CREATE INDEX IF NOT EXISTS cl_unpublished ON credential_log (record_id) WHERE published_at IS NULL AND process_success IS NULL;
CREATE INDEX IF NOT EXISTS chl_corp ON corp_history_log (corp_num);
CREATE INDEX IF NOT EXISTS chl_corp_ri ON corp_history_log (corp_num, record_id DESC);
DROP INDEX IF EXISTS chl_corp_hash;
