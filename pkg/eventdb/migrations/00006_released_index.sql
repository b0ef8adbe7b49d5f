-- +goose Up
-- The count of credentials the outbox sweep handed back (rearmed > 0) is a
-- figure of every status report and of the alerts, which read it every
-- minute: this small partial index keeps that count from scanning
-- credential_log (docs/design/operator-tooling.md, "One set of figures").
CREATE INDEX IF NOT EXISTS cl_rearmed ON credential_log (record_id) WHERE rearmed > 0;

-- +goose Down
DROP INDEX IF EXISTS cl_rearmed;
