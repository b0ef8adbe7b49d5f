// Package outbox turns credential_log rows waiting in the outbox (stored,
// outstanding, not yet published) into CredentialBundles: per corporation,
// every such credential in issue order, split into consecutive parts where
// one bundle would not fit the NATS server's max payload, each under the
// message id the architecture fixes (SHA-256 over the credentials' hashes,
// plus an operator's requeue nonce and the sequence of the bundle that
// carried them before). It publishes them and records where they went, and
// it finds the credentials whose bundle left BCREG_CREDS without an answer
// (docs/design/poller-builder.md, "Abandoned rows"). The credential-builder
// publishes its batches and its sweep this way, and `bcregctl requeue
// failed` the credentials an operator re-posts.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// Bundle is one CredentialBundle (a corporation's, or one part of it),
// ready to publish.
type Bundle struct {
	CorpNum string
	// Hashes are the credentials it carries, in order: what to mark
	// published after its PubAck.
	Hashes []string
	Msg    bus.Outgoing
	// operator is Options.Nonce: a fresh id after a stale duplicate keeps it.
	operator string
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
	// MaxBytes, when above 0, is the largest encoded bundle: a
	// corporation's credentials are split into consecutive parts below it
	// (MaxBytesFor gives it for a connection).
	MaxBytes int
}

// ErrTooLarge says one credential alone makes a bundle above MaxBytes.
var ErrTooLarge = errors.New("credential too large for a bundle")

// TooLargeError names the credential that cannot be bundled.
type TooLargeError struct {
	CorpNum, Hash string
	Bytes, Max    int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("credential %s of %s: a bundle of it alone is %d bytes, above the %d bytes a bundle may have (the NATS server's max payload less headroom)",
		e.Hash, e.CorpNum, e.Bytes, e.Max)
}

// Unwrap makes errors.Is(err, ErrTooLarge) hold.
func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// MaxBytesFor is the bundle size limit for js's connection: the server's
// max payload less the room for headers and the dead-letter copy
// (bus.MaxData, docs/design/dead-letters.md).
func MaxBytesFor(js jetstream.JetStream) int {
	if nc := js.Conn(); nc != nil && nc.MaxPayload() > 0 {
		return max(bus.MaxData(js), 1)
	}
	return 0
}

// Bundles groups outbox rows (ordered by corporation, then record id, as
// outboxdb.Unpublished returns them) into bundles, one per corporation or,
// above opts.MaxBytes, consecutive parts of it in issue order. A row whose
// stored text cannot be read is a bug, not data, and a credential too
// large for any bundle (*TooLargeError) cannot be sent: its corporation is
// reported in bad, with the parts before that row still returned, and the
// rest is left in the outbox.
func Bundles(system string, rows []outboxdb.Row, opts Options) (bundles []Bundle, bad map[string]error) {
	bad = map[string]error{}
	for start := 0; start < len(rows); {
		end := start
		for end < len(rows) && rows[end].CorpNum == rows[start].CorpNum {
			end++
		}
		parts, err := corpBundles(system, rows[start:end], opts)
		bundles = append(bundles, parts...)
		if err != nil {
			bad[rows[start].CorpNum] = err
		}
		start = end
	}
	return bundles, bad
}

// corpBundles makes one corporation's bundles: all its credentials in one
// when that fits MaxBytes (nearly always: encoded once), else in order,
// cut where the next one would take the encoded bundle above MaxBytes
// (estimated from each credential's own encoding, then checked on the
// real encoding, halving a part that still came out too large).
func corpBundles(system string, rows []outboxdb.Row, opts Options) ([]Bundle, error) {
	creds := make([]messages.Credential, len(rows))
	for i, r := range rows {
		c, err := credential(r)
		if err != nil {
			return nil, err
		}
		creds[i] = c
	}
	whole, err := bundle(system, rows, creds, opts)
	if err != nil {
		return nil, err
	}
	if opts.MaxBytes <= 0 || len(whole.Msg.Data) <= opts.MaxBytes {
		return []Bundle{whole}, nil
	}
	empty, err := bundle(system, rows[:1], nil, opts)
	if err != nil {
		return nil, err
	}
	// The envelope, plus room for a part's wider event range and state.
	base := len(empty.Msg.Data) + 256
	var out []Bundle
	for start := 0; start < len(rows); {
		size, end := base, start
		for end < len(rows) {
			enc, err := messages.EncodeCredential(creds[end])
			if err != nil {
				return out, fmt.Errorf("credential %s of %s: %w", rows[end].Hash, rows[end].CorpNum, err)
			}
			if end > start && size+len(enc)+1 > opts.MaxBytes {
				break
			}
			size += len(enc) + 1
			end++
		}
		parts, err := fit(system, rows[start:end], creds[start:end], opts)
		out = append(out, parts...)
		if err != nil {
			return out, err
		}
		start = end
	}
	return out, nil
}

// fit encodes rows as one bundle, or halves them until every part fits.
func fit(system string, rows []outboxdb.Row, creds []messages.Credential, opts Options) ([]Bundle, error) {
	b, err := bundle(system, rows, creds, opts)
	if err != nil {
		return nil, err
	}
	if len(b.Msg.Data) <= opts.MaxBytes {
		return []Bundle{b}, nil
	}
	if len(rows) == 1 {
		return nil, &TooLargeError{CorpNum: rows[0].CorpNum, Hash: rows[0].Hash, Bytes: len(b.Msg.Data), Max: opts.MaxBytes}
	}
	half := len(rows) / 2
	first, err := fit(system, rows[:half], creds[:half], opts)
	if err != nil {
		return first, err
	}
	second, err := fit(system, rows[half:], creds[half:], opts)
	return append(first, second...), err
}

// credential is a row as a bundle carries it: attributes as stored (the
// hashed text), value by value. The stored text goes as it is when that
// encodes to the same bytes (rawAttributes: every text the builder
// stores), saving the parse into a map and its re-encoding.
func credential(r outboxdb.Row) (messages.Credential, error) {
	c := messages.Credential{Hash: r.Hash, Type: r.Type, CredentialID: r.CredentialID, Schema: r.Schema,
		Version: r.Version, Reason: r.Reason}
	text := []byte(r.JSON)
	if eff, ok := rawAttributes(text); ok {
		c.RawAttributes, c.EffectiveDate = text, eff
		return c, nil
	}
	return parsedCredential(r)
}

// parsedCredential is credential the way that parses the stored text into a
// map of its values.
func parsedCredential(r outboxdb.Row) (messages.Credential, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.JSON), &raw); err != nil {
		return messages.Credential{}, fmt.Errorf("credential %s of %s: stored text: %w", r.Hash, r.CorpNum, err)
	}
	attrs := make(map[string]any, len(raw))
	for k, v := range raw {
		attrs[k] = v
	}
	var eff string
	_ = json.Unmarshal(raw["effective_date"], &eff)
	return messages.Credential{Hash: r.Hash, Type: r.Type, CredentialID: r.CredentialID, Schema: r.Schema,
		Version: r.Version, Attributes: attrs, Reason: r.Reason, EffectiveDate: eff}, nil
}

func bundle(system string, rows []outboxdb.Row, creds []messages.Credential, opts Options) (Bundle, error) {
	latest := rows[len(rows)-1]
	msg := messages.CredentialBundle{V: messages.Version, System: system, CorpNum: latest.CorpNum,
		CorpState: latest.CorpState, Profile: latest.Profile,
		Prev: rows[0].Prev, Last: rows[0].Last, Credentials: creds}
	if st, ok := opts.States[latest.CorpNum]; ok {
		msg.CorpState = st
	}
	if msg.Profile == "" {
		msg.Profile = opts.Profile
	}
	b := Bundle{CorpNum: latest.CorpNum, operator: opts.Nonce}
	var prevSeq int64
	for i, r := range rows {
		// The bundle's range spans every credential it carries.
		msg.Prev, msg.Last = regevent.Min(msg.Prev, r.Prev), regevent.Max(msg.Last, r.Last)
		if i < len(creds) {
			b.Hashes = append(b.Hashes, r.Hash)
		}
		prevSeq = max(prevSeq, r.PrevSeq)
	}
	data, err := messages.Encode(msg)
	if err != nil {
		return Bundle{}, err
	}
	b.Msg = bus.Outgoing{Subject: bus.CredSubject(system, b.CorpNum), MsgID: messages.BundleMsgID(b.Hashes, nonce(opts.Nonce, prevSeq)),
		CorpNum: b.CorpNum, Data: data}
	return b, nil
}

// nonce extends the operator's nonce with the stream sequence of the
// bundle that carried the credentials before (0: none). Credentials that
// came back to the outbox (their bundle was dead-lettered, dropped or
// deferred) thus get an id the dedup window has not seen, while a
// republish of never-acknowledged ones keeps its id and is dropped if the
// first copy was stored after all.
func nonce(operator string, prevSeq int64) string {
	if prevSeq <= 0 {
		return operator
	}
	n := "after:" + strconv.FormatInt(prevSeq, 10)
	if operator != "" {
		n = operator + "/" + n
	}
	return n
}

// Publish publishes bundles asynchronously (every PubAck awaited, ids kept
// on retries) and returns, per bundle, nil or why it is not stored, with
// the marks to record for the stored ones (outboxdb.MarkPublished). A
// duplicate's mark is the stored original's sequence, or, when the stream
// no longer holds the original, that of a copy published at once under a
// fresh id (republishStale; the bundle's Msg.MsgID then names it).
func Publish(ctx context.Context, js jetstream.JetStream, bundles []Bundle, backoff bus.Backoff) ([]outboxdb.PublishMark, []error) {
	outs := make([]bus.Outgoing, len(bundles))
	for i, b := range bundles {
		outs[i] = b.Msg
	}
	acks, errs := bus.PublishAllAcks(ctx, js, outs, backoff)
	republishStale(ctx, js, bundles, acks, errs, backoff)
	var marks []outboxdb.PublishMark
	for i, b := range bundles {
		if errs[i] != nil {
			continue
		}
		for _, h := range b.Hashes {
			marks = append(marks, outboxdb.PublishMark{Hash: h, Seq: acks[i].Sequence})
		}
	}
	return marks, errs
}
