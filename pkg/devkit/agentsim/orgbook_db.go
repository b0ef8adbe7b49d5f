package agentsim

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// The OrgBook view written into an OrgBook-shaped PostgreSQL schema
// (BCREG_SIM_ORGBOOK_DB_URL): the tables and columns OrgBook BC's database
// has and an audit reads (docs/design/orgbook.md, "The database"). The
// view in memory is the truth; changed topics are rewritten in the
// database every Config.OrgBookFlush and on POST /_sim/orgbook/flush, so a
// test or a demo can wait for the database to hold what was issued.

// OrgBookSchema is the DDL of the OrgBook-shaped tables (idempotent).
const OrgBookSchema = `
CREATE TABLE IF NOT EXISTS credential_type (
    id BIGINT PRIMARY KEY, description VARCHAR(255) NOT NULL, schema_name VARCHAR(255), schema_version VARCHAR(255));
CREATE TABLE IF NOT EXISTS topic (
    id BIGINT PRIMARY KEY, source_id VARCHAR(255) NOT NULL, type VARCHAR(255) NOT NULL,
    create_timestamp TIMESTAMPTZ, update_timestamp TIMESTAMPTZ, UNIQUE (source_id, type));
CREATE TABLE IF NOT EXISTS credential_set (
    id BIGINT PRIMARY KEY, topic_id BIGINT NOT NULL, credential_type_id BIGINT NOT NULL,
    cardinality_hash VARCHAR(128), latest_credential_id BIGINT,
    first_effective_date TIMESTAMPTZ, last_effective_date TIMESTAMPTZ,
    create_timestamp TIMESTAMPTZ, update_timestamp TIMESTAMPTZ);
CREATE INDEX IF NOT EXISTS credential_set_topic ON credential_set (topic_id);
CREATE TABLE IF NOT EXISTS credential (
    id BIGINT PRIMARY KEY, credential_id VARCHAR(255), topic_id BIGINT NOT NULL, credential_set_id BIGINT NOT NULL,
    credential_type_id BIGINT NOT NULL, cardinality_hash VARCHAR(128), effective_date TIMESTAMPTZ,
    inactive BOOLEAN NOT NULL, latest BOOLEAN NOT NULL, revoked BOOLEAN NOT NULL, revoked_date TIMESTAMPTZ,
    revoked_by_id BIGINT, create_timestamp TIMESTAMPTZ, update_timestamp TIMESTAMPTZ);
CREATE INDEX IF NOT EXISTS credential_topic ON credential (topic_id);
CREATE TABLE IF NOT EXISTS attribute (
    id BIGINT PRIMARY KEY, credential_id BIGINT NOT NULL, type VARCHAR(255) NOT NULL, format VARCHAR(255),
    value TEXT, create_timestamp TIMESTAMPTZ, update_timestamp TIMESTAMPTZ);
CREATE INDEX IF NOT EXISTS attribute_credential ON attribute (credential_id);
CREATE TABLE IF NOT EXISTS name (
    id BIGINT PRIMARY KEY, credential_id BIGINT NOT NULL, text TEXT, language VARCHAR(16), type VARCHAR(255),
    create_timestamp TIMESTAMPTZ, update_timestamp TIMESTAMPTZ);
CREATE INDEX IF NOT EXISTS name_credential ON name (credential_id);
CREATE TABLE IF NOT EXISTS topic_relationship (
    id BIGINT PRIMARY KEY, topic_id BIGINT NOT NULL, related_topic_id BIGINT NOT NULL, credential_id BIGINT,
    create_timestamp TIMESTAMPTZ, update_timestamp TIMESTAMPTZ);
CREATE INDEX IF NOT EXISTS topic_relationship_topic ON topic_relationship (topic_id);
CREATE INDEX IF NOT EXISTS topic_relationship_related ON topic_relationship (related_topic_id);
`

// obRows are the rows of the topics being flushed.
type obRows struct {
	ids                                     []int64
	topics, sets, creds, attrs, names, rels [][]any
	types                                   [][]any
}

// takeDirtyLocked collects the rows of the changed and deleted topics and
// clears the marks.
func (o *orgBook) takeDirtyLocked() obRows {
	var r obRows
	for _, t := range o.types {
		r.types = append(r.types, []any{t.ID, t.Description, t.Description, t.Version})
	}
	for id := range o.gone {
		r.ids = append(r.ids, id)
	}
	for id := range o.dirty {
		r.ids = append(r.ids, id)
		t := o.byID[id]
		if t == nil {
			continue
		}
		r.topics = append(r.topics, []any{t.ID, t.SourceID, t.Type, t.Created, t.Updated})
		for _, s := range t.Sets {
			r.sets = append(r.sets, []any{s.ID, t.ID, s.TypeID, s.CardinalityHash, s.LatestID, s.First, s.Last, s.Created, s.Updated})
			for _, c := range s.Creds {
				var by any
				if c.RevokedBy != 0 {
					by = c.RevokedBy
				}
				r.creds = append(r.creds, []any{c.ID, c.CredentialID, t.ID, s.ID, c.TypeID, s.CardinalityHash, c.EffectiveDate,
					c.Inactive, c.Latest, c.Revoked, c.RevokedDate, by, c.Created, s.Updated})
				for _, a := range c.Attrs {
					r.attrs = append(r.attrs, []any{a.ID, c.ID, a.Type, a.Format, a.Value, c.Created, s.Updated})
				}
				for _, n := range c.Names {
					r.names = append(r.names, []any{n.ID, c.ID, n.Text, nil, n.Type, c.Created, s.Updated})
				}
			}
		}
		for _, rel := range t.Rels {
			r.rels = append(r.rels, []any{rel.ID, t.ID, rel.RelatedTopicID, rel.CredentialID, t.Updated, t.Updated})
		}
	}
	o.dirty, o.gone = map[int64]bool{}, map[int64]bool{}
	return r
}

// FlushOrgBook writes the topics changed since the last flush into the
// OrgBook database. It is a no-op without BCREG_SIM_ORGBOOK_DB_URL.
func (s *Sim) FlushOrgBook(ctx context.Context) error {
	if s.obDB == nil {
		return nil
	}
	s.obFlushMu.Lock()
	defer s.obFlushMu.Unlock()
	s.ob.mu.Lock()
	gone := s.ob.gone
	rows := s.ob.takeDirtyLocked()
	s.ob.mu.Unlock()
	if len(rows.ids) == 0 {
		return nil
	}
	if err := s.writeOrgBook(ctx, rows); err != nil {
		// Mark them again: the next flush retries.
		s.ob.mu.Lock()
		for _, id := range rows.ids {
			if gone[id] {
				s.ob.gone[id] = true
			} else {
				s.ob.dirty[id] = true
			}
		}
		s.ob.mu.Unlock()
		return fmt.Errorf("agentsim: orgbook flush: %w", err)
	}
	return nil
}

func (s *Sim) writeOrgBook(ctx context.Context, r obRows) error {
	return pgx.BeginFunc(ctx, s.obDB, func(tx pgx.Tx) error {
		for _, t := range r.types {
			if _, err := tx.Exec(ctx, `INSERT INTO credential_type (id, description, schema_name, schema_version) VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO NOTHING`, t...); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `
DELETE FROM attribute WHERE credential_id IN (SELECT id FROM credential WHERE topic_id = ANY($1));
`, r.ids); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM name WHERE credential_id IN (SELECT id FROM credential WHERE topic_id = ANY($1))`,
			`DELETE FROM credential WHERE topic_id = ANY($1)`,
			`DELETE FROM credential_set WHERE topic_id = ANY($1)`,
			`DELETE FROM topic_relationship WHERE topic_id = ANY($1)`,
			`DELETE FROM topic WHERE id = ANY($1)`,
		} {
			if _, err := tx.Exec(ctx, q, r.ids); err != nil {
				return err
			}
		}
		for _, c := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"topic", []string{"id", "source_id", "type", "create_timestamp", "update_timestamp"}, r.topics},
			{"credential_set", []string{"id", "topic_id", "credential_type_id", "cardinality_hash", "latest_credential_id",
				"first_effective_date", "last_effective_date", "create_timestamp", "update_timestamp"}, r.sets},
			{"credential", []string{"id", "credential_id", "topic_id", "credential_set_id", "credential_type_id", "cardinality_hash",
				"effective_date", "inactive", "latest", "revoked", "revoked_date", "revoked_by_id", "create_timestamp", "update_timestamp"}, r.creds},
			{"attribute", []string{"id", "credential_id", "type", "format", "value", "create_timestamp", "update_timestamp"}, r.attrs},
			{"name", []string{"id", "credential_id", "text", "language", "type", "create_timestamp", "update_timestamp"}, r.names},
			{"topic_relationship", []string{"id", "topic_id", "related_topic_id", "credential_id", "create_timestamp", "update_timestamp"}, r.rels},
		} {
			if len(c.rows) == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
				return fmt.Errorf("copy %s: %w", c.table, err)
			}
		}
		return nil
	})
}

// openOrgBookDB connects to the OrgBook database and creates its tables.
func openOrgBookDB(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("agentsim: BCREG_SIM_ORGBOOK_DB_URL: %w", err)
	}
	if _, err := pool.Exec(ctx, OrgBookSchema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("agentsim: BCREG_SIM_ORGBOOK_DB_URL: create the OrgBook tables: %w", err)
	}
	return pool, nil
}

// runFlusher flushes every interval and when kicked, until the simulator
// closes; then it flushes once more.
func (s *Sim) runFlusher(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	flush := func(ctx context.Context) {
		if err := s.FlushOrgBook(ctx); err != nil {
			s.log.Warn("agentsim: orgbook flush failed; retried", zap.Error(err))
		}
	}
	for {
		select {
		case <-s.ctx.Done():
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			flush(ctx)
			cancel()
			s.obDB.Close()
			close(s.obDone)
			return
		case <-t.C:
			flush(s.ctx)
		case <-s.obKick:
			flush(s.ctx)
		}
	}
}

// kickFlush asks the flusher for a flush soon.
func (s *Sim) kickFlush() {
	if s.obDB == nil {
		return
	}
	select {
	case s.obKick <- struct{}{}:
	default:
	}
}
