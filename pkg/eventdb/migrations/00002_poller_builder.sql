-- +goose Up
-- Indexes and columns the event-poller and the credential-builder need
-- (docs/design/poller-builder.md).

-- The current watermark: the latest event date, then the highest event id
-- recorded at that date (the pre-LEAR pair).
CREATE INDEX le_stc_ed_ei ON last_event (system_type_cd, event_date DESC, event_id DESC);

-- Pruning event_seen beyond the look-back horizon.
CREATE INDEX es_stc_ed ON event_seen (system_type_cd, event_date);

-- One work-item row per CorpEvent message: a redelivered message updates
-- nothing new (rows adopted from the original have no msg_id; NULLs never
-- conflict).
CREATE UNIQUE INDEX ebcf_msg_id ON event_by_corp_filing (msg_id);

-- A snapshot is logged only when it differs from the corporation's latest
-- logged one; the hash of corp_json says so without reading it.
ALTER TABLE corp_history_log ADD COLUMN corp_json_hash VARCHAR(64);
CREATE INDEX chl_corp_ri ON corp_history_log (corp_num, record_id DESC);

-- Snapshots are large (several kB each, hundreds per builder batch): lz4
-- compresses them markedly faster than the default pglz, where the server
-- was built with it.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE corp_history_log ALTER COLUMN corp_json SET COMPRESSION lz4;
    END IF;
END
$$;
-- +goose StatementEnd

-- The outbox: a corporation's unpublished, outstanding credentials in issue
-- order (bundles and the sweep).
CREATE INDEX cl_unpublished_corp ON credential_log (corp_num, record_id)
    WHERE published_at IS NULL AND process_success IS NULL;

-- +goose Down
DROP INDEX cl_unpublished_corp;
DROP INDEX chl_corp_ri;
ALTER TABLE corp_history_log DROP COLUMN corp_json_hash;
DROP INDEX ebcf_msg_id;
DROP INDEX es_stc_ed;
DROP INDEX le_stc_ed_ei;
