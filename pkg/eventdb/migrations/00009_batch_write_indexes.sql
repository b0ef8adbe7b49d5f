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

-- +goose Down
CREATE INDEX IF NOT EXISTS cl_unpublished ON credential_log (record_id) WHERE published_at IS NULL AND process_success IS NULL;
CREATE INDEX IF NOT EXISTS chl_corp ON corp_history_log (corp_num);
CREATE INDEX IF NOT EXISTS chl_corp_ri ON corp_history_log (corp_num, record_id DESC);
DROP INDEX IF EXISTS chl_corp_hash;
