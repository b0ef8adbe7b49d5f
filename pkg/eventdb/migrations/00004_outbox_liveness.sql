-- +goose Up
-- An outstanding credential must never be left behind a bundle that is gone
-- (docs/design/poller-builder.md, "Abandoned rows"). published_seq is the
-- BCREG_CREDS stream sequence of the bundle that last carried the row (kept
-- when the row goes back to the outbox, so its next bundle gets a new
-- message id); rearmed counts how often the sweep handed the row back
-- because that bundle left the stream without an answer.
ALTER TABLE credential_log ADD COLUMN published_seq BIGINT;
ALTER TABLE credential_log ADD COLUMN rearmed INTEGER NOT NULL DEFAULT 0;

-- The sweep's liveness check: outstanding rows whose bundle is published,
-- by bundle.
CREATE INDEX cl_published_seq ON credential_log (published_seq)
    WHERE published_at IS NOT NULL AND process_success IS NULL;

-- +goose Down
DROP INDEX cl_published_seq;
ALTER TABLE credential_log DROP COLUMN rearmed;
ALTER TABLE credential_log DROP COLUMN published_seq;
