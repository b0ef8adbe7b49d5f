// Package credential turns corporation snapshots (package source) into
// verifiable-credential attribute sets, exactly as a given version of the
// original Python pipeline did, so that the stored text and its hash match.
//
// Each version is a Profile: a pure function from a snapshot (and the work
// item's parameters) to an ordered list of credentials. The `snapshot`
// profile reproduces commit 8bc273a (2018, current state only,
// *.bc_registries 1.0.36 schemas; docs/design/generation.md §2); the `history` profile
// reproduces the per-date generator of the last single-source pipeline
// (docs/design/generation.md §3, *.registries.ca 1.0.42 schemas, commit 6325b7e) from a
// full-history snapshot. docs/profiles.md compares them.
//
// Where the original crashed on bad data (a missing start event, no state
// row, null dates), the profiles fall back to the most reasonable value, log
// a warning naming the corporation and the missing row, and still produce
// credentials; every such deviation is listed in docs/deviations.md.
//
// The credential text is canonical JSON (package canonical) and its dates are
// converted from BC local time exactly as pytz did (package regclock).
package credential

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/credential/canonical"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/source"
)

// Credential types (CREDENTIAL_TYPE_CD).
const (
	TypeRegistration   = "REG"
	TypeAddress        = "ADDR"
	TypeRelationship   = "REL"
	TypeBusinessNumber = "BNC" // history profile only
)

// Credential is one generated credential, ready to be stored and posted.
type Credential struct {
	Type    string // CREDENTIAL_TYPE_CD: REG, ADDR, REL, BNC
	ID      string // CREDENTIAL_ID
	Schema  string // schema name registered with the agent
	Version string // schema version
	// Attributes is the credential's content, what the agent receives.
	Attributes canonical.Object
	// JSON is the canonical text of Attributes: what is stored and hashed.
	JSON string
	// Hash is the lowercase hex SHA-256 of JSON (CREDENTIAL_HASH).
	Hash string
	// Held marks a credential that is stored but never posted (stored with
	// process_success 'A').
	Held bool
	// Reason is the CREDENTIAL_REASON ("Filing:NOCAD", "Event:CONVICORP");
	// the snapshot profile has none.
	Reason string
	// EffectiveDate is the effective_date attribute ("" when null).
	EffectiveDate string
	// NotBefore is the UTC instant before which the credential must not be
	// posted (stored as not_before), by its profile's HoldDates; zero when
	// it may be posted at once.
	NotBefore time.Time
}

// Result is what a profile generated for one corporation.
type Result struct {
	CorpNum string
	// CorpState is the CORP_STATE column: the current operational state
	// (ACT or HIS), or "N/A" when the corporation has no usable state row.
	CorpState string
	// Credentials in issue order.
	Credentials []Credential
	// Note says why Credentials is empty, when it is.
	Note string
	// Warnings lists the data problems met and the fallback used for each;
	// they are also logged.
	Warnings []string
	// Requeue lists when the corporation must be processed again because
	// events take effect in the future (history profile): the credentials
	// of those events are not generated yet.
	Requeue []Requeue
}

// Requeue is a future-dated change of a corporation: when it becomes
// effective, the corporation is processed again with the work item range
// Prev = (FirstEventID, FirstEventDate), Last = (EventID, DueAt), the
// original's re-queue row (docs/deviations.md H13). The builder stores it as
// a future_requeue row.
type Requeue struct {
	// DueAt is when the event takes effect (naive BC local time).
	DueAt time.Time
	// EventID is the event taking effect at DueAt.
	EventID int64
	// FirstEventID and FirstEventDate (its naive local timestamp) are the
	// future event registered first: the re-run's range starts there, so
	// it covers every future event.
	FirstEventID   int64
	FirstEventDate time.Time
}

// Params are a work item's inputs besides the snapshot. The snapshot profile
// ignores them; the history profile needs them. Times are naive BC local
// times: only their wall clock counts.
type Params struct {
	// Now is the current BC local time: events effective after it are
	// future-dated.
	Now time.Time
	// Prev and Last bound the work item's event range (CorpEvent prev and
	// last): REG credentials for events registered since Prev, ADDR and REL
	// credentials for records that started or ended between the two.
	Prev, Last regevent.Position
}

// FullRange returns the Params of an initial load or an operator requeue:
// from regevent.Start to last, at now. An unchanged corporation then issues
// nothing new, thanks to the hashes.
func FullRange(last regevent.Position, now time.Time) Params {
	return Params{Now: now, Prev: regevent.Start, Last: last}
}

// Profile is one version of the credential generator.
type Profile interface {
	// Name is the profile's name (ProfileSnapshot, ...).
	Name() string
	// InScope reports whether the pipeline of this version processes the
	// corporation at all.
	InScope(s *source.Snapshot) bool
	// Generate returns the corporation's credentials in issue order. It is
	// pure apart from logging; an error means the corporation cannot be
	// generated.
	Generate(s *source.Snapshot, p Params) (*Result, error)
}

// Profile names.
const (
	ProfileSnapshot = "snapshot"
	ProfileHistory  = "history"
)

// Options configure a profile.
type Options struct {
	// PostAddresses posts address credentials instead of holding them back
	// (BCREG_POST_ADDRESSES; default false, as in the original).
	PostAddresses bool
	// Log receives a warning per data problem; nil discards them.
	Log *zap.Logger
}

// New returns the profile called name.
func New(name string, opts Options) (Profile, error) {
	switch name {
	case ProfileSnapshot:
		return NewSnapshot(opts), nil
	case ProfileHistory:
		return NewHistory(opts), nil
	}
	return nil, fmt.Errorf("unknown credential profile %q (want %q or %q)", name, ProfileSnapshot, ProfileHistory)
}

// newCredential fills in the canonical text and hash of attrs.
func newCredential(typ, id, schema, version string, attrs canonical.Object) (Credential, error) {
	text, hash, err := canonical.MarshalHashed(attrs)
	if err != nil {
		return Credential{}, fmt.Errorf("%s credential %s: %w", typ, id, err)
	}
	return credentialOf(typ, id, schema, version, attrs, text, hash), nil
}

// credentialOf is the credential of attrs whose canonical text and hash
// are known already.
func credentialOf(typ, id, schema, version string, attrs canonical.Object, text, hash string) Credential {
	eff, _ := attrs["effective_date"].(string)
	return Credential{
		Type: typ, ID: id, Schema: schema, Version: version,
		Attributes: attrs, JSON: text, Hash: hash,
		EffectiveDate: eff,
	}
}
