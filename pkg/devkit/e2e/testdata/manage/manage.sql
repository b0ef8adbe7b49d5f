-- requeueFailedEvents
update event_by_corp_filing set process_success = null, process_date = null, process_msg = null where process_success = 'N';

-- requeueFailedCorps
select corp_num from corp_history_log where process_success = 'N';
delete from credential_log where corp_num in (:corp_nums);
delete from corp_history_log where corp_num in (:corp_nums);
update event_by_corp_filing set process_success = null, process_date = null, process_msg = null where corp_num in (:corp_nums);

-- requeueFailedCreds
update credential_log set process_success = null, process_date = null, process_msg = null where process_success = 'N';

-- requeueProcessedCreds
update credential_log set process_success = null, process_date = null, process_msg = null where process_success = 'Y';

-- requeueSkippedCorpTypes
update event_by_corp_filing set process_success = null, process_date = null, process_msg = null where process_msg like ':type: Skipped%';

-- requeueOrganization
delete from credential_log where corp_num in (:'corp_num') AND system_type_cd='BC_REG';
delete from corp_history_log where corp_num in (:'corp_num') AND system_type_cd='BC_REG';
update event_by_corp_filing set process_success = null, process_date = null, process_msg = null where corp_num in (:'corp_num') AND system_type_cd='BC_REG';

-- queueOrganization
insert into event_by_corp_filing (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date, entry_date) select 'BC_REG', :'corp_num', 0, '0001-01-01', last_event_id, last_event_date, now() from event_by_corp_filing where record_id = (select max(record_id) from event_by_corp_filing where system_type_cd = 'BC_REG');

-- queueOrgForRelnsUpdate
delete from credential_log where corp_num = :'corp_num' and credential_type_cd = 'REL' and credential_json->>'associated_registration_id' = :'related_corp_num';
insert into event_by_corp_filing (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date, entry_date) select 'BC_REG', :'corp_num', 0, '0001-01-01', last_event_id, last_event_date, now() from event_by_corp_filing where record_id = (select max(record_id) from event_by_corp_filing where system_type_cd = 'BC_REG');

-- getCredentialPostRate
select count(*) from credential_log where process_success is not null AND process_success = 'Y' AND process_date >= ':start_time';
select count(1) as total_credentials, count(1) filter (where process_success is null) as unprocessed, count(1) filter (where process_success is not null) as processed, count(1) filter (where process_success = 'Y') as posted, count(1) filter (where process_success is not null and process_success != 'Y' and process_success != 'N' ) as held, count(1) filter (where process_success = 'N') as errors from credential_log;

-- getCredentialStageRate
select count(*) from credential_log where process_success is null AND process_success is null AND entry_date >= ':start_time';

-- getFailedCredErrors
select count(*) from credential_log where process_success = 'N';
select count(*), process_msg from credential_log where process_success = 'N' group by process_msg;

-- getRecordCounts
select count(*) from :table;
