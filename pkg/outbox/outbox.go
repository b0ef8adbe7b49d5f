// Package outbox turns credential_log rows waiting in the outbox (stored,
// outstanding, not yet published) into CredentialBundles: one per
// corporation, carrying every such credential in issue order, under the
// message id the architecture fixes (SHA-256 over the credentials' hashes,
// plus an operator's requeue nonce). The credential-builder publishes its
// batches and its sweep this way, and `bcregctl requeue failed` the
// credentials an operator re-posts.
package outbox

import (
	"encoding/json"
	"fmt"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
)

// Bundle is one corporation's CredentialBundle, ready to publish.
type Bundle struct {
	CorpNum string
	// Hashes are the credentials it carries, in order: what to mark
	// published after its PubAck.
	Hashes []string
	Msg    bus.Outgoing
}

// Options say how bundles are made.
type Options struct {
	// States overrides a corporation's stored corp_state (the builder
	// passes the state it just generated from).
	States map[string]string
	// Profile is used for rows stored without one (adopted rows).
	Profile string
	// Nonce, when set, gives the bundles fresh message ids (an operator's
	// requeue of credentials whose bundle was published before).
	Nonce string
}

// Bundles groups outbox rows (ordered by corporation, then record id, as
// eventdb.Unpublished returns them) into one bundle per corporation. A row
// whose stored text cannot be read is a bug, not data: its corporation is
// reported in bad and left in the outbox.
func Bundles(system string, rows []eventdb.OutboxRow, opts Options) (bundles []Bundle, bad map[string]error) {
	bad = map[string]error{}
	for start := 0; start < len(rows); {
		end := start
		for end < len(rows) && rows[end].CorpNum == rows[start].CorpNum {
			end++
		}
		b, err := bundle(system, rows[start:end], opts)
		if err != nil {
			bad[rows[start].CorpNum] = err
		} else {
			bundles = append(bundles, b)
		}
		start = end
	}
	return bundles, bad
}

func bundle(system string, rows []eventdb.OutboxRow, opts Options) (Bundle, error) {
	latest := rows[len(rows)-1]
	msg := messages.CredentialBundle{V: messages.Version, System: system, CorpNum: latest.CorpNum,
		CorpState: latest.CorpState, Profile: latest.Profile,
		Prev: Ref(rows[0].Prev), Last: Ref(rows[0].Last)}
	if st, ok := opts.States[latest.CorpNum]; ok {
		msg.CorpState = st
	}
	if msg.Profile == "" {
		msg.Profile = opts.Profile
	}
	b := Bundle{CorpNum: latest.CorpNum}
	for _, r := range rows {
		// The bundle's range spans every credential it carries.
		if r.Prev.Before(mark(msg.Prev)) {
			msg.Prev = Ref(r.Prev)
		}
		if mark(msg.Last).Before(r.Last) {
			msg.Last = Ref(r.Last)
		}
		// Attributes travel as stored (the hashed text), value by value.
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.JSON), &raw); err != nil {
			return Bundle{}, fmt.Errorf("credential %s of %s: stored text: %w", r.Hash, r.CorpNum, err)
		}
		attrs := make(map[string]any, len(raw))
		for k, v := range raw {
			attrs[k] = v
		}
		var eff string
		_ = json.Unmarshal(raw["effective_date"], &eff)
		msg.Credentials = append(msg.Credentials, messages.Credential{Hash: r.Hash, Type: r.Type,
			CredentialID: r.CredentialID, Schema: r.Schema, Version: r.Version, Attributes: attrs,
			Reason: r.Reason, EffectiveDate: eff})
		b.Hashes = append(b.Hashes, r.Hash)
	}
	data, err := messages.Encode(msg)
	if err != nil {
		return Bundle{}, err
	}
	b.Msg = bus.Outgoing{Subject: bus.CredSubject(system, b.CorpNum), MsgID: messages.BundleMsgID(b.Hashes, opts.Nonce),
		CorpNum: b.CorpNum, Data: data}
	return b, nil
}

// Ref converts a stored event position to a message's.
func Ref(w eventdb.Watermark) messages.EventRef {
	return messages.EventRef{EventID: w.EventID, Date: messages.NewLocalTime(w.EventDate)}
}

func mark(r messages.EventRef) eventdb.Watermark {
	return eventdb.Watermark{EventID: r.EventID, EventDate: r.Date.Time}
}
