-- +goose Up
-- The event-processor database of docs/design/registry.md §4. Table and column names
-- are fixed: reports, audits and operators' scripts read them. The original's
-- columns are kept (so `bcregctl adopt` can import its rows) and ours added.

CREATE TABLE last_event (
    record_id      BIGSERIAL PRIMARY KEY,
    system_type_cd VARCHAR(255) NOT NULL,
    event_id       BIGINT       NOT NULL,
    event_date     TIMESTAMP    NOT NULL,
    entry_date     TIMESTAMP    NOT NULL DEFAULT now()
);
CREATE INDEX le_stc_ei ON last_event (system_type_cd, event_id);

CREATE TABLE event_seen (
    system_type_cd VARCHAR(255) NOT NULL,
    event_id       BIGINT       NOT NULL,
    corp_num       VARCHAR(255) NOT NULL,
    event_date     TIMESTAMP,
    seen_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (system_type_cd, event_id, corp_num)
);
CREATE INDEX es_seen_at ON event_seen (seen_at);

CREATE TABLE event_by_corp_filing (
    record_id       BIGSERIAL PRIMARY KEY,
    system_type_cd  VARCHAR(255) NOT NULL,
    corp_num        VARCHAR(255) NOT NULL,
    prev_event_id   BIGINT       NOT NULL,
    prev_event_date TIMESTAMP    NOT NULL,
    last_event_id   BIGINT       NOT NULL,
    last_event_date TIMESTAMP    NOT NULL,
    reason          VARCHAR(32),
    msg_id          VARCHAR(255),
    entry_date      TIMESTAMP    NOT NULL DEFAULT now(),
    process_date    TIMESTAMP,
    process_success CHAR(1),
    process_msg     VARCHAR(255)
);
CREATE INDEX ebcf_corp ON event_by_corp_filing (corp_num);
CREATE INDEX ebcf_pd_null ON event_by_corp_filing (process_date) WHERE process_date IS NULL;
CREATE INDEX ebcf_ps ON event_by_corp_filing (process_success);

CREATE TABLE corp_history_log (
    record_id       BIGSERIAL PRIMARY KEY,
    system_type_cd  VARCHAR(255) NOT NULL,
    corp_num        VARCHAR(255) NOT NULL,
    corp_state      VARCHAR(255),
    prev_event_id   BIGINT       NOT NULL,
    prev_event_date TIMESTAMP    NOT NULL,
    last_event_id   BIGINT       NOT NULL,
    last_event_date TIMESTAMP    NOT NULL,
    corp_json       JSONB,
    entry_date      TIMESTAMP    NOT NULL DEFAULT now(),
    process_date    TIMESTAMP,
    process_success CHAR(1),
    process_msg     VARCHAR(255)
);
CREATE INDEX chl_corp ON corp_history_log (corp_num);
CREATE INDEX chl_entry ON corp_history_log (entry_date);

CREATE TABLE credential_log (
    record_id          BIGSERIAL PRIMARY KEY,
    system_type_cd     VARCHAR(255) NOT NULL,
    corp_num           VARCHAR(255) NOT NULL,
    corp_state         VARCHAR(255),
    prev_event_id      BIGINT       NOT NULL,
    prev_event_date    TIMESTAMP    NOT NULL,
    last_event_id      BIGINT       NOT NULL,
    last_event_date    TIMESTAMP    NOT NULL,
    credential_type_cd VARCHAR(255) NOT NULL,
    credential_id      VARCHAR(255),
    schema_name        VARCHAR(255) NOT NULL,
    schema_version     VARCHAR(255) NOT NULL,
    credential_json    TEXT         NOT NULL,
    credential_hash    VARCHAR(64)  NOT NULL,
    credential_reason  VARCHAR(255),
    profile            VARCHAR(32),
    entry_date         TIMESTAMP    NOT NULL DEFAULT now(),
    end_date           TIMESTAMP,
    not_before         TIMESTAMPTZ,
    published_at       TIMESTAMPTZ,
    claimed_by         VARCHAR(255),
    claimed_until      TIMESTAMPTZ,
    attempts           INTEGER      NOT NULL DEFAULT 0,
    process_date       TIMESTAMP,
    process_success    CHAR(1),
    process_msg        VARCHAR(255)
);
-- The de-duplication mechanism: a credential is stored (and issued) once.
CREATE UNIQUE INDEX cl_hash_index ON credential_log (credential_hash);
CREATE INDEX cl_corp_ri ON credential_log (corp_num, record_id);
CREATE INDEX cl_outstanding ON credential_log (corp_num, record_id) WHERE process_success IS NULL;
CREATE INDEX cl_unpublished ON credential_log (record_id) WHERE published_at IS NULL AND process_success IS NULL;
CREATE INDEX cl_ps_pd_desc ON credential_log (process_success, process_date DESC);

CREATE TABLE future_requeue (
    record_id      BIGSERIAL PRIMARY KEY,
    system_type_cd VARCHAR(255) NOT NULL,
    corp_num       VARCHAR(255) NOT NULL,
    due_at         TIMESTAMP    NOT NULL,
    event_id       BIGINT       NOT NULL,
    first_event_id   BIGINT,
    first_event_date TIMESTAMP,
    entry_date     TIMESTAMP    NOT NULL DEFAULT now(),
    published_at   TIMESTAMPTZ,
    UNIQUE (system_type_cd, corp_num, event_id)
);
CREATE INDEX fr_due ON future_requeue (due_at) WHERE published_at IS NULL;

CREATE TABLE initial_load (
    run_id           BIGSERIAL PRIMARY KEY,
    system_type_cd   VARCHAR(255) NOT NULL,
    watermark_event_id   BIGINT    NOT NULL,
    watermark_event_date TIMESTAMP NOT NULL,
    last_corp_num    VARCHAR(255),
    published        BIGINT       NOT NULL DEFAULT 0,
    total            BIGINT       NOT NULL DEFAULT 0,
    started_at       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    finished_at      TIMESTAMPTZ
);

CREATE TABLE operator_action (
    record_id   BIGSERIAL PRIMARY KEY,
    actor       VARCHAR(255) NOT NULL,
    action      VARCHAR(64)  NOT NULL,
    target      TEXT         NOT NULL,
    detail      JSONB,
    affected    BIGINT       NOT NULL DEFAULT 0,
    performed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- These tables reach millions of rows: vacuum and analyze every 5,000
-- changed rows regardless of size, as the original did.
ALTER TABLE event_by_corp_filing SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 5000, autovacuum_analyze_scale_factor = 0.0, autovacuum_analyze_threshold = 5000);
ALTER TABLE corp_history_log SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 5000, autovacuum_analyze_scale_factor = 0.0, autovacuum_analyze_threshold = 5000);
ALTER TABLE credential_log SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 5000, autovacuum_analyze_scale_factor = 0.0, autovacuum_analyze_threshold = 5000);

-- +goose Down
DROP TABLE operator_action;
DROP TABLE initial_load;
DROP TABLE future_requeue;
DROP TABLE credential_log;
DROP TABLE corp_history_log;
DROP TABLE event_by_corp_filing;
DROP TABLE event_seen;
DROP TABLE last_event;
