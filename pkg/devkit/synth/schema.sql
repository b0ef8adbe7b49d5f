-- The BC Registries source tables exactly as pkg/testkit/fixture/dev_fixture.sql creates
-- them (fixture_group included: synthetic rows carry 'synthetic' there), schema-qualified
-- so that no search_path is needed. Every statement is idempotent.
CREATE SCHEMA IF NOT EXISTS bc_registries;

CREATE TABLE IF NOT EXISTS bc_registries.corporation (
    corp_num TEXT,
    corp_frozen_typ_cd TEXT,
    corp_typ_cd TEXT,
    recognition_dts TIMESTAMP,
    last_ar_filed_dt TIMESTAMP,
    transition_dt TIMESTAMP,
    bn_9 TEXT,
    bn_15 TEXT,
    accession_num TEXT,
    corp_password TEXT,
    prompt_question TEXT,
    admin_email TEXT,
    send_ar_ind TEXT,
    tilma_involved_ind TEXT,
    tilma_cessation_dt TIMESTAMP,
    firm_last_image_date TIMESTAMP,
    os_session INTEGER,
    last_agm_date TIMESTAMP,
    firm_lp_xp_termination_date TIMESTAMP,
    last_ledger_dt TIMESTAMP,
    ar_reminder_option TEXT,
    ar_reminder_date TEXT,
    temp_password TEXT,
    temp_password_expiry_date TIMESTAMP,
    fixture_group TEXT
);

CREATE TABLE IF NOT EXISTS bc_registries.corp_state (
    corp_num TEXT,
    start_event_id NUMERIC,
    end_event_id NUMERIC,
    state_typ_cd TEXT,
    dd_corp_num TEXT,
    fixture_group TEXT
);

CREATE TABLE IF NOT EXISTS bc_registries.corp_name (
    corp_num TEXT,
    corp_name_typ_cd TEXT,
    start_event_id NUMERIC,
    corp_name_seq_num NUMERIC,
    end_event_id NUMERIC,
    srch_nme TEXT,
    corp_nme TEXT,
    dd_corp_num TEXT,
    fixture_group TEXT
);

CREATE TABLE IF NOT EXISTS bc_registries.jurisdiction (
    corp_num TEXT,
    start_event_id NUMERIC,
    end_event_id NUMERIC,
    dd_corp_num TEXT,
    can_jur_typ_cd TEXT,
    xpro_typ_cd TEXT,
    home_recogn_dt TIMESTAMP,
    othr_juris_desc TEXT,
    home_juris_num TEXT,
    bc_xpro_num TEXT,
    home_company_nme TEXT,
    other_juris_party_id TEXT,
    fixture_group TEXT
);

CREATE TABLE IF NOT EXISTS bc_registries.office (
    corp_num TEXT,
    office_typ_cd TEXT,
    start_event_id NUMERIC,
    end_event_id NUMERIC,
    mailing_addr_id NUMERIC,
    delivery_addr_id NUMERIC,
    dd_corp_num TEXT,
    email_address TEXT,
    fixture_group TEXT
);

CREATE TABLE IF NOT EXISTS bc_registries.address (
    addr_id NUMERIC,
    province TEXT,
    country_typ_cd TEXT,
    postal_cd TEXT,
    addr_line_1 TEXT,
    addr_line_2 TEXT,
    addr_line_3 TEXT,
    city TEXT,
    address_format_type TEXT,
    address_desc TEXT,
    address_desc_short TEXT,
    delivery_instructions TEXT,
    unit_no TEXT,
    unit_type TEXT,
    civic_no TEXT,
    civic_no_suffix TEXT,
    street_name TEXT,
    street_type TEXT,
    street_direction TEXT,
    lock_box_no TEXT,
    installation_type TEXT,
    installation_name TEXT,
    installation_qualifier TEXT,
    route_service_type TEXT,
    route_service_no TEXT,
    province_state_name TEXT,
    fixture_group TEXT
);

CREATE TABLE IF NOT EXISTS bc_registries.event (
    event_id NUMERIC,
    corp_num TEXT,
    event_typ_cd TEXT,
    event_timestmp TIMESTAMP,
    trigger_dts TIMESTAMP,
    fixture_group TEXT
);

CREATE TABLE IF NOT EXISTS bc_registries.filing (
    event_id NUMERIC,
    filing_typ_cd TEXT,
    effective_dt TIMESTAMP,
    change_dt TIMESTAMP,
    registration_dt TIMESTAMP,
    period_end_dt TIMESTAMP,
    accession_num TEXT,
    arrangement_ind TEXT,
    auth_sign_dt TIMESTAMP,
    withdrawn_event_id NUMERIC,
    ods_typ_cd TEXT,
    dd_event_id NUMERIC,
    access_cd TEXT,
    nr_num TEXT,
    court_appr_ind TEXT,
    court_order_num TEXT,
    agm_date TIMESTAMP,
    new_corp_num TEXT,
    fixture_group TEXT
);

CREATE TABLE IF NOT EXISTS bc_registries.corp_party (
    corp_party_id NUMERIC,
    mailing_addr_id NUMERIC,
    delivery_addr_id NUMERIC,
    corp_num TEXT,
    party_typ_cd TEXT,
    start_event_id NUMERIC,
    end_event_id NUMERIC,
    prev_party_id NUMERIC,
    corr_typ_cd TEXT,
    last_report_dt TIMESTAMP,
    appointment_dt TIMESTAMP,
    cessation_dt TIMESTAMP,
    last_nme TEXT,
    middle_nme TEXT,
    first_nme TEXT,
    business_nme TEXT,
    bus_company_num TEXT,
    email_address TEXT,
    corp_party_seq_num NUMERIC,
    office_notification_dt TIMESTAMP,
    phone TEXT,
    reason_typ_cd TEXT,
    fixture_group TEXT
);

CREATE TABLE IF NOT EXISTS bc_registries.tilma_involved (
    tilma_involved_id TEXT,
    corp_num TEXT,
    start_event_id TEXT,
    end_event_id TEXT,
    tilma_jurisdiction TEXT,
    nuans_number TEXT,
    nuans_expiry_date TIMESTAMP,
    nr_number TEXT,
    jurisdiction_num TEXT,
    jurisdiction_reg_date TIMESTAMP,
    can_number TEXT,
    jurisdiction_assumed_name TEXT,
    assumed_nuans_number TEXT,
    assumed_nuans_name TEXT,
    assumed_nuans_expiration_date TIMESTAMP,
    involved_ind TEXT,
    cessation_date TIMESTAMP,
    fixture_group TEXT
);

CREATE TABLE IF NOT EXISTS bc_registries.conv_event (
    event_id NUMERIC,
    effective_dt TIMESTAMP,
    report_corp_ind TEXT,
    prev_bc_ind TEXT,
    activity_user_id TEXT,
    activity_dt TIMESTAMP,
    activity_tm TIMESTAMP,
    annual_file_dt TIMESTAMP,
    corp_cre_typ_cd TEXT,
    accession_num TEXT,
    dd_event_id NUMERIC,
    remarks TEXT,
    fixture_group TEXT
);
