-- +goose Up
-- Operator tooling (issue 8): the alerting state of the active
-- event-poller, so a new active poller (a failover, a rolling upgrade)
-- does not repeat what its predecessor already sent.
CREATE TABLE alert_state (
    alert_key   VARCHAR(64)  PRIMARY KEY,
    status_code VARCHAR(16)  NOT NULL,
    active      BOOLEAN      NOT NULL DEFAULT false,
    -- For alerts on a growing count (failures, dead letters): the count
    -- when the last message was sent.
    last_value  BIGINT       NOT NULL DEFAULT 0,
    message     TEXT,
    sent_at     TIMESTAMPTZ,
    updated_at  TIMESTAMPTZ  NOT NULL DEFAULT now()
);

-- The status report's posting rate and most recent errors read
-- credential_log by process_date within a status: cl_ps_pd_desc serves
-- both. Failed work items, newest first:
CREATE INDEX ebcf_failed_pd ON event_by_corp_filing (process_date DESC) WHERE process_success = 'N';

-- +goose Down
DROP INDEX ebcf_failed_pd;
DROP TABLE alert_state;
