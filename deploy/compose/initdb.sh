#!/bin/sh
# PostgreSQL container init: the two databases of the pipeline, and the demo
# registry data in the source database (pkg/testkit/fixture, which
# docker-compose.yml mounts at /demo-data).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE DATABASE bcreg_source;
CREATE DATABASE bcreg_events;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname bcreg_source \
	-f /demo-data/dev_fixture.sql -f /demo-data/code_tables.sql \
	-c "CREATE INDEX ON bc_registries.event (event_timestmp); CREATE INDEX ON bc_registries.event (corp_num);"
