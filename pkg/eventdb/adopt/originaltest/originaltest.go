// Package originaltest builds event-processor databases of the Python
// pipeline for tests of `bcregctl adopt`: the tables as its create.py made
// them (docs/design/registry.md §4; upper-case names without quotes, which PostgreSQL
// folds to lower case), in the 8bc273a layout or the pre-LEAR one, and rows
// in them. Test code only.
package originaltest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt"
	"github.com/bcgov/bcreg-events/pkg/regclock"
)

// The two layouts (adopt.Layout8bc273a, adopt.LayoutPreLEAR).
const (
	Layout8bc273a = adopt.Layout8bc273a
	LayoutPreLEAR = adopt.LayoutPreLEAR
)

// ddl8bc273a is create.py at 8bc273a.
const ddl8bc273a = `
CREATE TABLE IF NOT EXISTS LAST_EVENT (
    RECORD_ID SERIAL PRIMARY KEY,
    SYSTEM_TYPE_CD VARCHAR(255) NOT NULL,
    EVENT_ID INTEGER NOT NULL,
    ENTRY_DATE TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS le_stc ON LAST_EVENT (SYSTEM_TYPE_CD);
CREATE INDEX IF NOT EXISTS le_ie ON LAST_EVENT (EVENT_ID);
CREATE INDEX IF NOT EXISTS le_stc_ei ON LAST_EVENT (SYSTEM_TYPE_CD, EVENT_ID);
CREATE TABLE IF NOT EXISTS EVENT_BY_CORP_FILING (
    RECORD_ID SERIAL PRIMARY KEY,
    SYSTEM_TYPE_CD VARCHAR(255) NOT NULL,
    CORP_NUM VARCHAR(255) NOT NULL,
    PREV_EVENT_ID INTEGER NOT NULL,
    LAST_EVENT_ID INTEGER NOT NULL,
    ENTRY_DATE TIMESTAMP NOT NULL,
    PROCESS_DATE TIMESTAMP,
    PROCESS_SUCCESS CHAR(1),
    PROCESS_MSG VARCHAR(255)
);
CREATE INDEX IF NOT EXISTS ebcf_pd_null ON EVENT_BY_CORP_FILING (PROCESS_DATE) WHERE PROCESS_DATE IS NULL;
CREATE TABLE IF NOT EXISTS CORP_HISTORY_LOG (
    RECORD_ID SERIAL PRIMARY KEY,
    SYSTEM_TYPE_CD VARCHAR(255) NOT NULL,
    CORP_NUM VARCHAR(255) NOT NULL,
    CORP_STATE VARCHAR(255) NOT NULL,
    PREV_EVENT_ID INTEGER NOT NULL,
    LAST_EVENT_ID INTEGER NOT NULL,
    CORP_JSON JSON NOT NULL,
    ENTRY_DATE TIMESTAMP NOT NULL,
    PROCESS_DATE TIMESTAMP,
    PROCESS_SUCCESS CHAR(1),
    PROCESS_MSG VARCHAR(255)
);
CREATE TABLE IF NOT EXISTS CREDENTIAL_LOG (
    RECORD_ID SERIAL PRIMARY KEY,
    SYSTEM_TYPE_CD VARCHAR(255) NOT NULL,
    CORP_NUM VARCHAR(255) NOT NULL,
    CORP_STATE VARCHAR(255) NOT NULL,
    PREV_EVENT_ID INTEGER NOT NULL,
    LAST_EVENT_ID INTEGER NOT NULL,
    CREDENTIAL_TYPE_CD VARCHAR(255) NOT NULL,
    CREDENTIAL_ID VARCHAR(255) NOT NULL,
    SCHEMA_NAME VARCHAR(255) NOT NULL,
    SCHEMA_VERSION VARCHAR(255) NOT NULL,
    CREDENTIAL_JSON JSON NOT NULL,
    CREDENTIAL_HASH VARCHAR(64) NOT NULL,
    ENTRY_DATE TIMESTAMP NOT NULL,
    END_DATE TIMESTAMP,
    PROCESS_DATE TIMESTAMP,
    PROCESS_SUCCESS CHAR(1),
    PROCESS_MSG VARCHAR(255)
);
CREATE UNIQUE INDEX IF NOT EXISTS cl_hash_index ON CREDENTIAL_LOG (CREDENTIAL_HASH);
CREATE INDEX IF NOT EXISTS cl_pd_null ON CREDENTIAL_LOG (PROCESS_DATE) WHERE PROCESS_DATE IS NULL;
`

// ddlPreLEAR is create.py of the pre-LEAR versions: dated watermark and
// queue rows, JSON event positions and the credential reason.
const ddlPreLEAR = `
CREATE TABLE IF NOT EXISTS LAST_EVENT (
    RECORD_ID SERIAL PRIMARY KEY,
    SYSTEM_TYPE_CD VARCHAR(255) NOT NULL,
    EVENT_ID INTEGER NOT NULL,
    EVENT_DATE TIMESTAMP NOT NULL,
    ENTRY_DATE TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS le_stc_ei ON LAST_EVENT (SYSTEM_TYPE_CD, EVENT_ID);
CREATE TABLE IF NOT EXISTS EVENT_BY_CORP_FILING (
    RECORD_ID SERIAL PRIMARY KEY,
    SYSTEM_TYPE_CD VARCHAR(255) NOT NULL,
    CORP_NUM VARCHAR(255) NOT NULL,
    PREV_EVENT_ID INTEGER NOT NULL,
    PREV_EVENT_DATE TIMESTAMP NOT NULL,
    LAST_EVENT_ID INTEGER NOT NULL,
    LAST_EVENT_DATE TIMESTAMP NOT NULL,
    ENTRY_DATE TIMESTAMP NOT NULL,
    PROCESS_DATE TIMESTAMP,
    PROCESS_SUCCESS CHAR(1),
    PROCESS_MSG VARCHAR(255)
);
CREATE TABLE IF NOT EXISTS CORP_HISTORY_LOG (
    RECORD_ID SERIAL PRIMARY KEY,
    SYSTEM_TYPE_CD VARCHAR(255) NOT NULL,
    CORP_NUM VARCHAR(255) NOT NULL,
    CORP_STATE VARCHAR(255) NOT NULL,
    PREV_EVENT JSON NOT NULL,
    LAST_EVENT JSON NOT NULL,
    CORP_JSON JSON NOT NULL,
    ENTRY_DATE TIMESTAMP NOT NULL,
    PROCESS_DATE TIMESTAMP,
    PROCESS_SUCCESS CHAR(1),
    PROCESS_MSG VARCHAR(255)
);
CREATE TABLE IF NOT EXISTS CREDENTIAL_LOG (
    RECORD_ID SERIAL PRIMARY KEY,
    SYSTEM_TYPE_CD VARCHAR(255) NOT NULL,
    CORP_NUM VARCHAR(255) NOT NULL,
    CORP_STATE VARCHAR(255) NOT NULL,
    PREV_EVENT JSON NOT NULL,
    LAST_EVENT JSON NOT NULL,
    CREDENTIAL_TYPE_CD VARCHAR(255) NOT NULL,
    CREDENTIAL_ID VARCHAR(255) NOT NULL,
    SCHEMA_NAME VARCHAR(255) NOT NULL,
    SCHEMA_VERSION VARCHAR(255) NOT NULL,
    CREDENTIAL_JSON JSON NOT NULL,
    CREDENTIAL_HASH VARCHAR(64) NOT NULL,
    CREDENTIAL_REASON VARCHAR(255),
    ENTRY_DATE TIMESTAMP NOT NULL,
    END_DATE TIMESTAMP,
    PROCESS_DATE TIMESTAMP,
    PROCESS_SUCCESS CHAR(1),
    PROCESS_MSG VARCHAR(255)
);
CREATE UNIQUE INDEX IF NOT EXISTS cl_hash_index ON CREDENTIAL_LOG (CREDENTIAL_HASH);
`

// DB is an original event-processor database under construction.
type DB struct {
	t      testing.TB
	URL    string
	Layout string
	conn   *pgx.Conn
}

// Create makes the original's tables in the database at url and seeds
// LAST_EVENT with event 0, as insert.py did.
func Create(t testing.TB, url, layout string) *DB {
	t.Helper()
	ddl := ddl8bc273a
	if layout == LayoutPreLEAR {
		ddl = ddlPreLEAR
	}
	d := &DB{t: t, URL: url, Layout: layout}
	d.exec(ddl)
	d.Watermark(0, time.Date(2, 1, 1, 0, 0, 0, 0, time.UTC))
	return d
}

// Watermark appends a LAST_EVENT row (eventDate is ignored by 8bc273a,
// which had no such column).
func (d *DB) Watermark(eventID int64, eventDate time.Time) {
	d.t.Helper()
	if d.Layout == LayoutPreLEAR {
		d.exec(`INSERT INTO LAST_EVENT (SYSTEM_TYPE_CD, EVENT_ID, EVENT_DATE, ENTRY_DATE) VALUES ('BC_REG', $1, $2, now())`, eventID, eventDate)
		return
	}
	d.exec(`INSERT INTO LAST_EVENT (SYSTEM_TYPE_CD, EVENT_ID, ENTRY_DATE) VALUES ('BC_REG', $1, now())`, eventID)
}

// Event is an event position (id and naive BC local date).
type Event struct {
	ID   int64
	Date time.Time
}

// WorkItem is an EVENT_BY_CORP_FILING row; a nil ProcessDate is a row
// still queued.
type WorkItem struct {
	CorpNum        string
	Prev, Last     Event
	ProcessDate    *time.Time
	ProcessSuccess string
	ProcessMsg     string
}

// AddWorkItem inserts an EVENT_BY_CORP_FILING row.
func (d *DB) AddWorkItem(w WorkItem) {
	d.t.Helper()
	if d.Layout == LayoutPreLEAR {
		d.exec(`INSERT INTO EVENT_BY_CORP_FILING (SYSTEM_TYPE_CD, CORP_NUM, PREV_EVENT_ID, PREV_EVENT_DATE, LAST_EVENT_ID, LAST_EVENT_DATE,
    ENTRY_DATE, PROCESS_DATE, PROCESS_SUCCESS, PROCESS_MSG) VALUES ('BC_REG', $1, $2, $3, $4, $5, now(), $6, $7, $8)`,
			w.CorpNum, w.Prev.ID, w.Prev.Date, w.Last.ID, w.Last.Date, w.ProcessDate, nullable(w.ProcessSuccess), nullable(w.ProcessMsg))
		return
	}
	d.exec(`INSERT INTO EVENT_BY_CORP_FILING (SYSTEM_TYPE_CD, CORP_NUM, PREV_EVENT_ID, LAST_EVENT_ID, ENTRY_DATE,
    PROCESS_DATE, PROCESS_SUCCESS, PROCESS_MSG) VALUES ('BC_REG', $1, $2, $3, now(), $4, $5, $6)`,
		w.CorpNum, w.Prev.ID, w.Last.ID, w.ProcessDate, nullable(w.ProcessSuccess), nullable(w.ProcessMsg))
}

// History is a CORP_HISTORY_LOG row (a snapshot of the corporation for
// the generator); a nil ProcessDate is a snapshot not yet generated from.
type History struct {
	CorpNum, CorpState string
	Prev, Last         Event
	JSON               string // CORP_JSON; "{}" when empty
	ProcessDate        *time.Time
	ProcessSuccess     string
	ProcessMsg         string
}

// AddHistory inserts a CORP_HISTORY_LOG row.
func (d *DB) AddHistory(h History) {
	d.t.Helper()
	if h.JSON == "" {
		h.JSON = "{}"
	}
	if d.Layout == LayoutPreLEAR {
		d.exec(`INSERT INTO CORP_HISTORY_LOG (SYSTEM_TYPE_CD, CORP_NUM, CORP_STATE, PREV_EVENT, LAST_EVENT, CORP_JSON, ENTRY_DATE,
    PROCESS_DATE, PROCESS_SUCCESS, PROCESS_MSG) VALUES ('BC_REG', $1, $2, $3, $4, $5, now(), $6, $7, $8)`,
			h.CorpNum, h.CorpState, EventJSON(h.Prev), EventJSON(h.Last), h.JSON, h.ProcessDate, nullable(h.ProcessSuccess), nullable(h.ProcessMsg))
		return
	}
	d.exec(`INSERT INTO CORP_HISTORY_LOG (SYSTEM_TYPE_CD, CORP_NUM, CORP_STATE, PREV_EVENT_ID, LAST_EVENT_ID, CORP_JSON, ENTRY_DATE,
    PROCESS_DATE, PROCESS_SUCCESS, PROCESS_MSG) VALUES ('BC_REG', $1, $2, $3, $4, $5, now(), $6, $7, $8)`,
		h.CorpNum, h.CorpState, h.Prev.ID, h.Last.ID, h.JSON, h.ProcessDate, nullable(h.ProcessSuccess), nullable(h.ProcessMsg))
}

// Credential is a CREDENTIAL_LOG row; a nil ProcessDate is outstanding.
type Credential struct {
	CorpNum, CorpState string
	Prev, Last         Event
	Type, ID           string
	Schema, Version    string
	JSON, Hash         string
	Reason             string // pre-LEAR only
	ProcessDate        *time.Time
	ProcessSuccess     string
	ProcessMsg         string
}

// AddCredential inserts a CREDENTIAL_LOG row.
func (d *DB) AddCredential(c Credential) {
	d.t.Helper()
	if d.Layout == LayoutPreLEAR {
		d.exec(`INSERT INTO CREDENTIAL_LOG (SYSTEM_TYPE_CD, CORP_NUM, CORP_STATE, PREV_EVENT, LAST_EVENT, CREDENTIAL_TYPE_CD,
    CREDENTIAL_ID, SCHEMA_NAME, SCHEMA_VERSION, CREDENTIAL_JSON, CREDENTIAL_HASH, CREDENTIAL_REASON, ENTRY_DATE,
    PROCESS_DATE, PROCESS_SUCCESS, PROCESS_MSG)
VALUES ('BC_REG', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now(), $12, $13, $14)`,
			c.CorpNum, c.CorpState, EventJSON(c.Prev), EventJSON(c.Last), c.Type, c.ID, c.Schema, c.Version, c.JSON, c.Hash,
			nullable(c.Reason), c.ProcessDate, nullable(c.ProcessSuccess), nullable(c.ProcessMsg))
		return
	}
	d.exec(`INSERT INTO CREDENTIAL_LOG (SYSTEM_TYPE_CD, CORP_NUM, CORP_STATE, PREV_EVENT_ID, LAST_EVENT_ID, CREDENTIAL_TYPE_CD,
    CREDENTIAL_ID, SCHEMA_NAME, SCHEMA_VERSION, CREDENTIAL_JSON, CREDENTIAL_HASH, ENTRY_DATE, PROCESS_DATE, PROCESS_SUCCESS, PROCESS_MSG)
VALUES ('BC_REG', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now(), $11, $12, $13)`,
		c.CorpNum, c.CorpState, c.Prev.ID, c.Last.ID, c.Type, c.ID, c.Schema, c.Version, c.JSON, c.Hash,
		c.ProcessDate, nullable(c.ProcessSuccess), nullable(c.ProcessMsg))
}

// EventJSON is the pre-LEAR PREV_EVENT/LAST_EVENT text: the event id and
// its date in UTC, keys sorted (json.dumps(sort_keys=True)).
func EventJSON(e Event) string {
	date := e.Date.Format("2006-01-02T15:04:05")
	if e.Date.Year() > 2 {
		date = regclock.ToUTC(regclock.History, e.Date)
	}
	b, _ := json.Marshal(date)
	return fmt.Sprintf(`{"event_date": %s, "event_id": %d}`, b, e.ID)
}

func (d *DB) exec(sql string, args ...any) {
	d.t.Helper()
	ctx := context.Background()
	if d.conn == nil {
		conn, err := pgx.Connect(ctx, d.URL)
		if err != nil {
			d.t.Fatalf("originaltest: connect: %v", err)
		}
		d.conn = conn
		d.t.Cleanup(func() { conn.Close(context.Background()) })
	}
	if _, err := d.conn.Exec(ctx, sql, args...); err != nil {
		d.t.Fatalf("originaltest: %s: %v", sql, err)
	}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
