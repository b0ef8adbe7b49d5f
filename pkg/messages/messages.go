// Package messages defines the JSON contracts that travel on the streams:
// CorpEvent (poller → builder), CredentialBundle (builder → poster) and
// DeadLetter (any stage → BCREG_DLQ). Each carries a version field; a
// message that cannot be decoded or has an unknown version is an error the
// consumer dead-letters, never drops.
package messages

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// Version is the contract version this code writes and reads.
const Version = 1

// SystemBCReg is the source system code of COLIN (BC Registries).
const SystemBCReg = "BC_REG"

// Reasons a CorpEvent is published.
const (
	ReasonEvent       = "event"
	ReasonInitialLoad = "initial-load"
	ReasonRequeue     = "requeue"
	ReasonFutureDated = "future-dated"
)

// ErrUndecodable marks a payload that is not a valid message of its kind.
var ErrUndecodable = errors.New("undecodable message")

// CorpEvent asks the builder to (re)build one corporation's credentials for
// the events in (Prev, Last]: positions in the registry's event stream,
// dated by the registry's naive clock exactly as event.event_timestmp.
type CorpEvent struct {
	V          int               `json:"v"`
	System     string            `json:"system"`
	CorpNum    string            `json:"corp_num"`
	Prev       regevent.Position `json:"prev"`
	Last       regevent.Position `json:"last"`
	Reason     string            `json:"reason"`
	DetectedAt time.Time         `json:"detected_at"`
}

// Credential is one credential of a bundle, identified by its hash.
type Credential struct {
	Hash          string         `json:"hash"`
	Type          string         `json:"type"`
	CredentialID  string         `json:"credential_id"`
	Schema        string         `json:"schema"`
	Version       string         `json:"version"`
	Attributes    map[string]any `json:"attributes"`
	Reason        string         `json:"reason"`
	EffectiveDate string         `json:"effective_date"`
	// RawAttributes, when set, is the attributes object as JSON text that
	// Encode writes in Attributes' place (compacted, with <, > and &
	// escaped, as encoding/json writes any raw JSON), so that the builder
	// need not parse a stored credential to send it. Decoding never sets it.
	RawAttributes json.RawMessage `json:"-"`
}

// wireCredential is Credential as Encode writes it: the same fields in the
// same order, the attributes either a map or raw text.
type wireCredential struct {
	Hash          string `json:"hash"`
	Type          string `json:"type"`
	CredentialID  string `json:"credential_id"`
	Schema        string `json:"schema"`
	Version       string `json:"version"`
	Attributes    any    `json:"attributes"`
	Reason        string `json:"reason"`
	EffectiveDate string `json:"effective_date"`
}

// wireBundle is CredentialBundle as Encode writes it; its Credentials
// shadows the embedded bundle's (as RawBundle's does), in the same place.
type wireBundle struct {
	CredentialBundle
	Credentials []wireCredential `json:"credentials"`
}

// wire is b as Encode writes it, or false when no credential carries
// RawAttributes (b is then written as it is).
func (b CredentialBundle) wire() (wireBundle, bool) {
	raw := false
	for _, c := range b.Credentials {
		raw = raw || c.RawAttributes != nil
	}
	if !raw {
		return wireBundle{}, false
	}
	w := wireBundle{CredentialBundle: b, Credentials: make([]wireCredential, len(b.Credentials))}
	for i, c := range b.Credentials {
		w.Credentials[i] = c.wire()
	}
	return w, true
}

func (c Credential) wire() wireCredential {
	var attrs any = c.Attributes
	if c.RawAttributes != nil {
		attrs = c.RawAttributes
	}
	return wireCredential{Hash: c.Hash, Type: c.Type, CredentialID: c.CredentialID, Schema: c.Schema,
		Version: c.Version, Attributes: attrs, Reason: c.Reason, EffectiveDate: c.EffectiveDate}
}

// EncodeCredential is one credential as Encode writes it inside a bundle.
func EncodeCredential(c Credential) ([]byte, error) {
	return Encode(c.wire())
}

// CredentialBundle carries every unpublished credential of one corporation,
// in issue order. Held-back credentials are never included.
type CredentialBundle struct {
	V             int               `json:"v"`
	System        string            `json:"system"`
	CorpNum       string            `json:"corp_num"`
	CorpState     string            `json:"corp_state"`
	Profile       string            `json:"profile"`
	Prev          regevent.Position `json:"prev"`
	Last          regevent.Position `json:"last"`
	RetryRejected bool              `json:"retry_rejected"`
	Credentials   []Credential      `json:"credentials"`
}

// RawCredential is a Credential whose attributes stay the JSON text the
// bundle carries (DecodeRawBundle): a reader that only passes them on (the
// poster) neither builds nor re-encodes a map per credential. Its
// Attributes shadows the embedded Credential's, which stays nil
// (encoding/json fills the shallower field).
type RawCredential struct {
	Credential
	Attributes json.RawMessage `json:"attributes"`
}

// RawBundle is a CredentialBundle whose credentials are RawCredentials; its
// Credentials shadows the embedded bundle's, which stays nil.
type RawBundle struct {
	CredentialBundle
	Credentials []RawCredential `json:"credentials"`
}

// Stages that dead-letter messages.
const (
	StageBuilder = "builder"
	StagePoster  = "poster"
	StageMover   = "mover"
)

// DeadLetter is a message that stopped being retried, with the original
// bytes so a requeue reproduces it exactly.
type DeadLetter struct {
	V               int                 `json:"v"`
	Stage           string              `json:"stage"`
	Reason          string              `json:"reason"`
	Deliveries      uint64              `json:"deliveries"`
	OriginalStream  string              `json:"original_stream"`
	OriginalSubject string              `json:"original_subject"`
	OriginalSeq     uint64              `json:"original_stream_seq"`
	OriginalHeaders map[string][]string `json:"original_headers"`
	FailedAt        time.Time           `json:"failed_at"`
	CorpNum         string              `json:"corp_num,omitempty"`
	PayloadBase64   []byte              `json:"payload_base64"`
	// PayloadRef is set, and PayloadBase64 empty, when the original bytes
	// base64-encoded would not fit in a message: they are kept as a
	// message of their own in BCREG_DLQ (docs/design/dead-letters.md).
	PayloadRef *PayloadRef `json:"payload_ref,omitempty"`
	// PayloadSize is the length of the original bytes when they are not
	// inline.
	PayloadSize int `json:"payload_size,omitempty"`
	// PayloadOmitted says why the original bytes were kept nowhere (not
	// even a copy of its own fits); CredentialHashes then name a
	// bundle's credentials.
	PayloadOmitted   string   `json:"payload_omitted,omitempty"`
	CredentialHashes []string `json:"credential_hashes,omitempty"`
}

// PayloadRef names the message that holds a dead letter's original bytes.
type PayloadRef struct {
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
}

// Encode marshals a message as JSON.
func Encode(v any) ([]byte, error) {
	enc := v
	if b, ok := v.(CredentialBundle); ok {
		if w, raw := b.wire(); raw {
			enc = w
		}
	}
	b, err := json.Marshal(enc)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

// DecodeCorpEvent decodes and checks a CorpEvent.
func DecodeCorpEvent(b []byte) (CorpEvent, error) {
	var m CorpEvent
	if err := decode(b, &m, &m.V); err != nil {
		return m, err
	}
	if m.CorpNum == "" {
		return m, fmt.Errorf("%w: corp event without corp_num", ErrUndecodable)
	}
	return m, nil
}

// DecodeBundle decodes and checks a CredentialBundle.
func DecodeBundle(b []byte) (CredentialBundle, error) {
	var m CredentialBundle
	if err := decode(b, &m, &m.V); err != nil {
		return m, err
	}
	if err := checkBundle(m); err != nil {
		return m, err
	}
	for i, c := range m.Credentials {
		if err := checkCredential(m.CorpNum, i, c); err != nil {
			return m, err
		}
	}
	return m, nil
}

// DecodeRawBundle decodes and checks a CredentialBundle like DecodeBundle
// but keeps each credential's attributes as their JSON text (an object, or
// null for none).
func DecodeRawBundle(b []byte) (RawBundle, error) {
	var m RawBundle
	if err := decode(b, &m, &m.V); err != nil {
		return m, err
	}
	if err := checkBundle(m.CredentialBundle); err != nil {
		return m, err
	}
	for i, c := range m.Credentials {
		if err := checkCredential(m.CorpNum, i, c.Credential); err != nil {
			return m, err
		}
		// What DecodeBundle's map would refuse.
		if a := bytes.TrimSpace(c.Attributes); len(a) > 0 && a[0] != '{' && string(a) != "null" {
			return m, fmt.Errorf("%w: credential %d of %s: attributes are not a JSON object", ErrUndecodable, i, m.CorpNum)
		}
	}
	return m, nil
}

func checkBundle(m CredentialBundle) error {
	if m.CorpNum == "" {
		return fmt.Errorf("%w: credential bundle without corp_num", ErrUndecodable)
	}
	return nil
}

func checkCredential(corpNum string, i int, c Credential) error {
	if c.Hash == "" || c.Schema == "" {
		return fmt.Errorf("%w: credential %d of %s has no hash or schema", ErrUndecodable, i, corpNum)
	}
	return nil
}

// DecodeDeadLetter decodes and checks a DeadLetter.
func DecodeDeadLetter(b []byte) (DeadLetter, error) {
	var m DeadLetter
	err := decode(b, &m, &m.V)
	return m, err
}

func decode(b []byte, into any, version *int) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("%w: %v", ErrUndecodable, err)
	}
	if *version != Version {
		return fmt.Errorf("%w: unknown version %d (this build reads %d)", ErrUndecodable, *version, Version)
	}
	return nil
}

// The CorpEvent of each reason. detected is when the work was found (kept
// in UTC).

// NewPollEvent asks for the events a poll found: (prev, last] where prev is
// the poll's window start and last the new watermark.
func NewPollEvent(system, corpNum string, prev, last regevent.Position, detected time.Time) CorpEvent {
	return newCorpEvent(system, corpNum, prev, last, ReasonEvent, detected)
}

// NewFutureDatedEvent asks for a corporation's future-dated events once due:
// from the first of them to the one taking effect.
func NewFutureDatedEvent(system, corpNum string, first, due regevent.Position, detected time.Time) CorpEvent {
	return newCorpEvent(system, corpNum, first, due, ReasonFutureDated, detected)
}

// NewInitialLoadEvent asks for a corporation's whole history up to last,
// the position noted when the load started.
func NewInitialLoadEvent(system, corpNum string, last regevent.Position, detected time.Time) CorpEvent {
	return newCorpEvent(system, corpNum, regevent.Start, last, ReasonInitialLoad, detected)
}

// NewRequeueEvent asks for a corporation's whole history up to last again,
// at an operator's request (bcregctl requeue corp, the console, adopt).
func NewRequeueEvent(system, corpNum string, last regevent.Position, detected time.Time) CorpEvent {
	return newCorpEvent(system, corpNum, regevent.Start, last, ReasonRequeue, detected)
}

func newCorpEvent(system, corpNum string, prev, last regevent.Position, reason string, detected time.Time) CorpEvent {
	return CorpEvent{V: Version, System: system, CorpNum: corpNum, Prev: prev, Last: last, Reason: reason, DetectedAt: detected.UTC()}
}
