-- +goose Up
-- The OrgBook audits' results (bcregctl audit, the event-poller's scheduled
-- audit): the console's Audit page shows the last, and a scheduled audit
-- alerts when its findings outnumber the previous one's
-- (docs/design/orgbook.md, "The audit"). findings holds the first
-- findings only (findings_total counts them all).
CREATE TABLE IF NOT EXISTS audit_run (
    run_id         BIGSERIAL PRIMARY KEY,
    started_at     TIMESTAMPTZ NOT NULL,
    seconds        DOUBLE PRECISION NOT NULL,
    ran_by         TEXT NOT NULL,
    profile        TEXT NOT NULL,
    audited        INTEGER NOT NULL,
    pending        INTEGER NOT NULL,
    ignored        INTEGER NOT NULL,
    topics         INTEGER NOT NULL,
    findings_total INTEGER NOT NULL,
    counts         JSONB NOT NULL,
    findings       JSONB NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS audit_run;
