package agentsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// The OrgBook view: what OrgBook BC would store of the credentials the
// simulator issued, with OrgBook's storage rules (docs/design/orgbook.md,
// "How OrgBook stores a credential"). Only the three credential types OrgBook
// BC maps for BC Registries are kept; other schemas (addresses, the 2018
// *.bc_registries types) are not stored, as OrgBook BC does not map them.

// OrgBook's names for the BC Registries credential types and the topic type.
const (
	OrgBookTopicType        = "registration.registries.ca"
	OrgBookRegistration     = "registration.registries.ca"
	OrgBookBusinessNumber   = "business_number.registries.ca"
	OrgBookRelationship     = "relationship.registries.ca"
	orgBookRegistrationName = "entity_name"
	orgBookAssumedName      = "entity_name_assumed"
)

// orgBookFormats maps the attributes OrgBook stores, per credential type,
// to their format; claims not listed are kept only as claims (not modelled).
var orgBookFormats = map[string]map[string]string{
	OrgBookRegistration: {
		"entity_status": "category", "entity_type": "category", "reason_description": "category",
		"registration_date": "datetime", "entity_name_effective": "datetime",
		"entity_name_assumed_effective": "datetime", "entity_status_effective": "datetime",
		"registered_jurisdiction": "jurisdiction", "home_jurisdiction": "jurisdiction",
	},
	OrgBookBusinessNumber: {"business_number": "attribute"},
	OrgBookRelationship: {
		"relationship": "category", "relationship_description": "attribute",
		"associated_registration_name": "attribute", "relationship_status": "category",
		"relationship_status_effective": "datetime", "reason_description": "category",
	},
}

// orgBookNames are the claims stored as names, per credential type.
var orgBookNames = map[string][]string{
	OrgBookRegistration:   {orgBookRegistrationName, orgBookAssumedName},
	OrgBookBusinessNumber: {"business_number"},
}

// OBType is a credential type as OrgBook numbers it: ids are given in order
// of first use, so a client must discover them by description.
type OBType struct {
	ID          int64  `json:"id"`
	Description string `json:"description"`
	Version     string `json:"version"`
}

// OBTopic is one topic.
type OBTopic struct {
	ID       int64
	SourceID string
	Type     string
	Created  time.Time
	Updated  time.Time
	Sets     []*OBSet
	// Rels are the topic_relationship rows whose topic is this one.
	Rels []OBRel
}

// OBRel is a topic_relationship row.
type OBRel struct {
	ID, RelatedTopicID, CredentialID int64
}

// OBSet is a credential set: one per topic, type and cardinality.
type OBSet struct {
	ID              int64
	TypeID          int64
	CardinalityHash string
	Creds           []*OBCred // in order of arrival (id order)
	LatestID        int64
	First, Last     *time.Time
	Created         time.Time
	Updated         time.Time
}

// OBCred is a stored credential.
type OBCred struct {
	ID            int64
	CredentialID  string // the agent's credential (exchange) id
	TypeID        int64
	EffectiveDate time.Time
	Inactive      bool
	Latest        bool
	Revoked       bool
	RevokedDate   *time.Time
	RevokedBy     int64
	Attrs         []OBAttr
	Names         []OBName
	// Related is the associated registration id of a relationship
	// credential.
	Related string
	Created time.Time
}

// OBAttr is an attribute row.
type OBAttr struct {
	ID     int64  `json:"id"`
	Type   string `json:"type"`
	Format string `json:"format"`
	Value  string `json:"value"`
}

// OBName is a name row.
type OBName struct {
	ID   int64  `json:"id"`
	Text string `json:"text"`
	Type string `json:"type"`
}

// orgBook holds the view. Its own lock: the API and the flusher read it
// while credentials are issued.
type orgBook struct {
	mu     sync.Mutex
	types  []*OBType
	topics map[string]*OBTopic // by source id (one topic type)
	byID   map[int64]*OBTopic
	seq    int64 // one id sequence for every table: ids stay unique
	// dirty and gone are the topic ids changed or deleted since the last
	// flush to the database.
	dirty map[int64]bool
	gone  map[int64]bool
	now   func() time.Time
}

func newOrgBook(now func() time.Time) *orgBook {
	return &orgBook{topics: map[string]*OBTopic{}, byID: map[int64]*OBTopic{},
		dirty: map[int64]bool{}, gone: map[int64]bool{}, now: now}
}

func (o *orgBook) next() int64 { o.seq++; return o.seq }

func (o *orgBook) typeFor(schema, version string) *OBType {
	for _, t := range o.types {
		if t.Description == schema {
			return t
		}
	}
	t := &OBType{ID: int64(len(o.types) + 1), Description: schema, Version: version}
	o.types = append(o.types, t)
	return t
}

func (o *orgBook) typeByID(id int64) *OBType {
	if id < 1 || int(id) > len(o.types) {
		return &OBType{ID: id}
	}
	return o.types[id-1]
}

// topicLocked returns the topic of sourceID, creating it.
func (o *orgBook) topicLocked(sourceID string) *OBTopic {
	t := o.topics[sourceID]
	if t == nil {
		now := o.now().UTC()
		t = &OBTopic{ID: o.next(), SourceID: sourceID, Type: OrgBookTopicType, Created: now, Updated: now}
		o.topics[sourceID] = t
		o.byID[t.ID] = t
	}
	o.dirty[t.ID] = true
	return t
}

// errNotStored is a credential OrgBook would refuse.
var errNotStored = errors.New("orgbook: credential not stored")

// ingest stores one issued credential. Credentials of types OrgBook BC does
// not map are ignored.
func (o *orgBook) ingest(schema, version string, raw json.RawMessage, credID string) error {
	formats, ok := orgBookFormats[schema]
	if !ok {
		return nil
	}
	var attrs map[string]any
	if err := json.Unmarshal(raw, &attrs); err != nil {
		return fmt.Errorf("%w: %v", errNotStored, err)
	}
	text := func(k string) string {
		switch v := attrs[k].(type) {
		case string:
			return v
		case nil:
			return ""
		default:
			b, _ := json.Marshal(v)
			return string(b)
		}
	}
	regID := text("registration_id")
	if regID == "" {
		return fmt.Errorf("%w: no registration_id", errNotStored)
	}
	eff, err := parseOBTime(text("effective_date"))
	if err != nil {
		return fmt.Errorf("%w: effective_date: %v", errNotStored, err)
	}
	var expiry *time.Time
	if s := text("expiry_date"); s != "" {
		t, err := parseOBTime(s)
		if err != nil {
			return fmt.Errorf("%w: expiry_date: %v", errNotStored, err)
		}
		expiry = &t
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	typ := o.typeFor(schema, version)
	topic := o.topicLocked(regID)
	now := o.now().UTC()
	c := &OBCred{ID: o.next(), CredentialID: credID, TypeID: typ.ID, EffectiveDate: eff, Created: now,
		Inactive: schema == OrgBookRegistration && text("entity_status") == "HIS"}
	if expiry != nil {
		c.Revoked, c.RevokedDate = true, expiry
	}
	// Empty attributes and names are not stored.
	for _, k := range sortedKeys(formats) {
		if v := text(k); v != "" {
			c.Attrs = append(c.Attrs, OBAttr{ID: o.next(), Type: k, Format: formats[k], Value: v})
		}
	}
	for _, k := range orgBookNames[schema] {
		if v := text(k); v != "" {
			c.Names = append(c.Names, OBName{ID: o.next(), Text: v, Type: k})
		}
	}
	card := ""
	if schema == OrgBookRelationship {
		c.Related = text("associated_registration_id")
		card = c.Related + "::" + text("relationship")
	}
	set := topic.setFor(typ.ID, card)
	if set == nil {
		set = &OBSet{ID: o.next(), TypeID: typ.ID, CardinalityHash: card, Created: now}
		topic.Sets = append(topic.Sets, set)
	}
	set.add(c)
	set.Updated, topic.Updated = now, now
	if schema == OrgBookRelationship {
		o.relinkLocked(topic, set)
	}
	return nil
}

func (t *OBTopic) setFor(typeID int64, card string) *OBSet {
	for _, s := range t.Sets {
		if s.TypeID == typeID && s.CardinalityHash == card {
			return s
		}
	}
	return nil
}

// add applies OrgBook's supersession rule: a newcomer older than the
// set's latest is stored revoked by it; otherwise it revokes every
// unrevoked credential effective at or before it and becomes the latest.
func (s *OBSet) add(c *OBCred) {
	var later *OBCred
	for _, o := range s.Creds {
		if o.EffectiveDate.After(c.EffectiveDate) && (later == nil || o.EffectiveDate.After(later.EffectiveDate)) {
			later = o
		}
	}
	if later != nil {
		c.Revoked, c.RevokedBy = true, later.ID
		if c.RevokedDate == nil {
			d := later.EffectiveDate
			c.RevokedDate = &d
		}
	} else {
		for _, o := range s.Creds {
			if !o.Revoked && !o.EffectiveDate.After(c.EffectiveDate) {
				d := c.EffectiveDate
				o.Revoked, o.RevokedBy, o.RevokedDate = true, c.ID, &d
			}
			o.Latest = false
		}
		c.Latest = true
	}
	s.Creds = append(s.Creds, c)
	latest := s.Creds[0]
	first := latest.EffectiveDate
	for _, o := range s.Creds {
		if o.Latest {
			latest = o
		}
		if o.EffectiveDate.Before(first) {
			first = o.EffectiveDate
		}
	}
	s.LatestID, s.First, s.Last = latest.ID, &first, nil
	if latest.Revoked {
		s.Last = latest.RevokedDate
	}
}

// relinkLocked keeps the topic's relationship row of one set: a row for
// the set's latest credential while it is not revoked (an expired
// relationship has none).
func (o *orgBook) relinkLocked(t *OBTopic, s *OBSet) {
	ids := map[int64]bool{}
	for _, c := range s.Creds {
		ids[c.ID] = true
	}
	t.Rels = slices.DeleteFunc(t.Rels, func(r OBRel) bool { return ids[r.CredentialID] })
	for _, c := range s.Creds {
		if c.Latest && !c.Revoked && c.Related != "" {
			rel := o.topicLocked(c.Related)
			t.Rels = append(t.Rels, OBRel{ID: o.next(), RelatedTopicID: rel.ID, CredentialID: c.ID})
		}
	}
}

// parseOBTime reads an issuer's date: RFC 3339 with or without a zone, or
// a bare date.
func parseOBTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("empty")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date", s)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Drift kinds of POST /_sim/orgbook/drift.
const (
	DriftDeleteTopic      = "delete_topic"
	DriftSetAttribute     = "set_attribute"
	DriftSetName          = "set_name"
	DriftDropRelationship = "drop_relationship"
)

// Drift is a change made to the OrgBook view behind the issuer's back, as a
// hand edit or a lost credential would: the audit's test cases.
type Drift struct {
	Kind string `json:"kind"`
	// SourceID names the topic.
	SourceID string `json:"source_id"`
	// Type is the attribute or name type (set_attribute, set_name); the
	// attribute is changed on the latest credential that has it.
	Type string `json:"type,omitempty"`
	// Value is the new value ("" removes the attribute or name).
	Value string `json:"value,omitempty"`
	// Related names the related topic (drop_relationship).
	Related string `json:"related,omitempty"`
}

// applyDrift changes the view.
func (o *orgBook) applyDrift(d Drift) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.topics[d.SourceID]
	if t == nil {
		return fmt.Errorf("no topic %q", d.SourceID)
	}
	switch d.Kind {
	case DriftDeleteTopic:
		// OrgBook's delete_topic: the topic, its credentials and its
		// relationship rows, both ways.
		delete(o.topics, t.SourceID)
		delete(o.byID, t.ID)
		delete(o.dirty, t.ID)
		o.gone[t.ID] = true
		for _, other := range o.topics {
			n := len(other.Rels)
			other.Rels = slices.DeleteFunc(other.Rels, func(r OBRel) bool { return r.RelatedTopicID == t.ID })
			if len(other.Rels) != n {
				o.dirty[other.ID] = true
			}
		}
		return nil
	case DriftSetAttribute, DriftSetName:
		for _, s := range t.Sets {
			for _, c := range s.Creds {
				if !c.Latest || c.Revoked {
					continue
				}
				if d.Kind == DriftSetAttribute && setRow(&c.Attrs, d.Type, d.Value, func(a *OBAttr) *string { return &a.Value }, func(a OBAttr) string { return a.Type }) {
					o.dirty[t.ID] = true
					return nil
				}
				if d.Kind == DriftSetName && setRow(&c.Names, d.Type, d.Value, func(n *OBName) *string { return &n.Text }, func(n OBName) string { return n.Type }) {
					o.dirty[t.ID] = true
					return nil
				}
			}
		}
		return fmt.Errorf("topic %s: no active credential has %q", d.SourceID, d.Type)
	case DriftDropRelationship:
		rel := o.topics[d.Related]
		if rel == nil {
			return fmt.Errorf("no topic %q", d.Related)
		}
		n := len(t.Rels)
		t.Rels = slices.DeleteFunc(t.Rels, func(r OBRel) bool { return r.RelatedTopicID == rel.ID })
		if len(t.Rels) == n {
			return fmt.Errorf("topic %s: no relationship to %s", d.SourceID, d.Related)
		}
		o.dirty[t.ID] = true
		return nil
	}
	return fmt.Errorf("unknown drift kind %q (%s, %s, %s, %s)", d.Kind, DriftDeleteTopic, DriftSetAttribute, DriftSetName, DriftDropRelationship)
}

// setRow sets (or, with an empty value, removes) the row of type typ.
func setRow[T any](rows *[]T, typ, value string, val func(*T) *string, kind func(T) string) bool {
	for i := range *rows {
		if kind((*rows)[i]) != typ {
			continue
		}
		if value == "" {
			*rows = slices.Delete(*rows, i, i+1)
		} else {
			*val(&(*rows)[i]) = value
		}
		return true
	}
	return false
}

// Topic returns a copy of the topic of sourceID, for tests.
func (s *Sim) Topic(sourceID string) (OBTopic, bool) {
	o := s.ob
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.topics[sourceID]
	if t == nil {
		return OBTopic{}, false
	}
	return t.clone(), true
}

// OrgBookTypes returns the credential types in id order.
func (s *Sim) OrgBookTypes() []OBType {
	s.ob.mu.Lock()
	defer s.ob.mu.Unlock()
	out := make([]OBType, len(s.ob.types))
	for i, t := range s.ob.types {
		out[i] = *t
	}
	return out
}

// Drift changes the OrgBook view (see Drift).
func (s *Sim) Drift(d Drift) error {
	if err := s.ob.applyDrift(d); err != nil {
		return fmt.Errorf("agentsim: drift: %w", err)
	}
	s.log.Info("agentsim: orgbook drift applied")
	s.kickFlush()
	return nil
}

func (t *OBTopic) clone() OBTopic {
	c := *t
	c.Rels = slices.Clone(t.Rels)
	c.Sets = make([]*OBSet, len(t.Sets))
	for i, s := range t.Sets {
		sc := *s
		sc.Creds = make([]*OBCred, len(s.Creds))
		for j, cr := range s.Creds {
			cc := *cr
			cc.Attrs, cc.Names = slices.Clone(cr.Attrs), slices.Clone(cr.Names)
			sc.Creds[j] = &cc
		}
		c.Sets[i] = &sc
	}
	return c
}

// Attr returns the value of attribute typ of the credential ("" if absent).
func (c *OBCred) Attr(typ string) string {
	for _, a := range c.Attrs {
		if a.Type == typ {
			return a.Value
		}
	}
	return ""
}

// Name returns the name of type typ ("" if absent).
func (c *OBCred) Name(typ string) string {
	for _, n := range c.Names {
		if n.Type == typ {
			return n.Text
		}
	}
	return ""
}
