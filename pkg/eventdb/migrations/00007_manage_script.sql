-- +goose Up
-- The operators' `manage` script keeps working (docs/design/manage-script.md).

-- credential_json and corp_json are `json`, as in the original, so the
-- script's `credential_json->>'associated_registration_id'` works.
-- PostgreSQL's json stores the text as given, byte for byte: the hashes
-- (of credential_json's text) and the canonical text are unchanged.
-- corp_json was jsonb: its rows are jsonb's text, which json then keeps.
ALTER TABLE credential_log ALTER COLUMN credential_json TYPE json USING credential_json::json;
ALTER TABLE corp_history_log ALTER COLUMN corp_json TYPE json USING corp_json::json;
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE corp_history_log ALTER COLUMN corp_json SET COMPRESSION lz4;
    END IF;
END
$$;
-- +goose StatementEnd

-- A credential_log row reset to no status by hand (the script's
-- requeueFailedCreds, requeueProcessedCreds) is posted again. Our own
-- resets (eventdb.ResetSet) count themselves in resets; a row that loses
-- its status without that count moving was reset by someone else. The
-- trigger puts such a row back into the outbox (published_at NULL, its
-- attempts and claim cleared, as ResetSet does) and marks it
-- (hand_reset_at), so the active event-poller publishes it at its next
-- poll and records an operator_action naming it.
ALTER TABLE credential_log ADD COLUMN IF NOT EXISTS resets INTEGER NOT NULL DEFAULT 0;
ALTER TABLE credential_log ADD COLUMN IF NOT EXISTS hand_reset_at TIMESTAMPTZ;
CREATE INDEX IF NOT EXISTS cl_hand_reset ON credential_log (record_id) WHERE hand_reset_at IS NOT NULL;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION credential_log_hand_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.published_at := NULL;
    NEW.attempts := 0;
    NEW.rearmed := 0;
    NEW.claimed_by := NULL;
    NEW.claimed_until := NULL;
    NEW.hand_reset_at := now();
    RETURN NEW;
END
$$;
-- +goose StatementEnd
-- Only updates naming process_success reach the WHEN test, and it is a
-- comparison of the row's own fields: the poster's answers cost nothing
-- measurable more. (Every statement here may run again: a test re-runs
-- the versions from 5.)
DROP TRIGGER IF EXISTS cl_hand_reset ON credential_log;
CREATE TRIGGER cl_hand_reset BEFORE UPDATE OF process_success ON credential_log
    FOR EACH ROW
    WHEN (OLD.process_success IS NOT NULL AND NEW.process_success IS NULL AND NEW.resets = OLD.resets)
    EXECUTE FUNCTION credential_log_hand_reset();

-- An event_by_corp_filing row without a process date is one a person
-- inserted (queueOrganization) or reset (requeueFailedEvents, …): every
-- row the builder records has one, and adopt imports only processed rows.
-- ebcf_pd_null (migration 1) finds them; the active event-poller turns
-- each corporation's into a requeue CorpEvent.

-- +goose Down
DROP TRIGGER cl_hand_reset ON credential_log;
DROP FUNCTION credential_log_hand_reset();
DROP INDEX cl_hand_reset;
ALTER TABLE credential_log DROP COLUMN hand_reset_at;
ALTER TABLE credential_log DROP COLUMN resets;
ALTER TABLE corp_history_log ALTER COLUMN corp_json TYPE jsonb USING corp_json::jsonb;
ALTER TABLE credential_log ALTER COLUMN credential_json TYPE text USING credential_json::text;
