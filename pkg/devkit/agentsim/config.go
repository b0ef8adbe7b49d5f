package agentsim

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Modes of the simulator.
const (
	// ModeVonX simulates the VON-X issuer agent (bcreg-x, 2018–2019).
	ModeVonX = "vonx"
	// ModeController simulates the aca-py issuer controller (bcreg-aca).
	ModeController = "controller"
)

// Overload actions: what happens to a request that would push the number of
// credentials in flight past Capacity + QueueLimit.
const (
	// OverloadReject answers 503 at once, before anything is issued.
	OverloadReject = "reject"
	// OverloadHang holds the request without an answer until the client gives
	// up, the hang duration ends (then 503) or the simulator is closed.
	OverloadHang = "hang"
)

// Config is the start-up configuration of a simulator. The envconfig tags are
// meant for github.com/kelseyhightower/envconfig with the prefix BCREG, which
// gives BCREG_SIM_MODE, BCREG_SIM_ADDR and so on; the default tags are the
// values [DefaultConfig] returns.
//
// The embedded [Faults] are the initial run-time settings.
type Config struct {
	// Mode is ModeVonX or ModeController. Empty means ModeVonX.
	Mode string `envconfig:"SIM_MODE" default:"vonx"`
	// Addr is the listen address of ListenAndServe.
	Addr string `envconfig:"SIM_ADDR" default:"127.0.0.1:5000"`
	// Issuer is the VON-X issuer (connection) id, the first path segment of
	// /{issuer}/issue-credential. Empty means "bcreg".
	Issuer string `envconfig:"SIM_ISSUER" default:"bcreg"`
	// SchemasFile optionally names a YAML file in the agent's schemas.yml
	// format. Its credential types come before the built-in ones and replace
	// built-in types with the same name and version.
	SchemasFile string `envconfig:"SIM_SCHEMAS_FILE"`
	// Seed seeds the random choices (fault rolls and latency samples). Zero
	// picks a random seed.
	Seed uint64 `envconfig:"SIM_SEED"`
	// OrgBookDBURL, when set, is a PostgreSQL database the OrgBook view of
	// what was issued is written into, in OrgBook's tables.
	OrgBookDBURL string `envconfig:"SIM_ORGBOOK_DB_URL"`
	// OrgBookFlush is how often changes of the OrgBook view are written.
	OrgBookFlush Duration `envconfig:"SIM_ORGBOOK_FLUSH" default:"1s"`
	// OrgBookRate, when positive, limits each client (by remote address)
	// to this many requests a second on the OrgBook API, with a burst of
	// as many, and answers 429 beyond, as OrgBook BC's production proxy
	// does at 25 (docs/design/orgbook.md, "The read API").
	OrgBookRate float64 `envconfig:"SIM_ORGBOOK_RATE"`
	// NoRecord keeps no record of the issued credentials (Received and
	// /_sim/received stay empty); the counters, the duplicate count and
	// the OrgBook view stay. The record holds every credential's
	// attributes, about 3.4 kB each: 7.8 GB for make bench's 2.26 million
	// at N = 1,000,000.
	NoRecord bool `envconfig:"SIM_NO_RECORD"`

	Faults
}

// DefaultConfig returns the configuration envconfig produces from an empty
// environment.
func DefaultConfig() Config {
	return Config{
		Mode:         ModeVonX,
		Addr:         "127.0.0.1:5000",
		Issuer:       "bcreg",
		OrgBookFlush: Duration(time.Second),
		Faults: Faults{
			Capacity:        20,
			Overload:        OverloadReject,
			OverloadPenalty: 0.5,
			ErrorStatus:     500,
		},
	}
}

// Validate reports every problem of the configuration at once. Empty Mode,
// Issuer, Overload and ErrorStatus are accepted: New fills in their defaults.
func (c Config) Validate() error {
	var errs []error
	switch c.Mode {
	case "", ModeVonX, ModeController:
	default:
		errs = append(errs, fmt.Errorf("SIM_MODE: %q is neither %q nor %q", c.Mode, ModeVonX, ModeController))
	}
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			errs = append(errs, fmt.Errorf("SIM_ADDR: %w", err))
		}
	}
	if strings.ContainsAny(c.Issuer, "/?#") {
		errs = append(errs, fmt.Errorf("SIM_ISSUER: %q must be a single path segment", c.Issuer))
	}
	if c.SchemasFile != "" {
		if _, err := loadSchemaFile(c.SchemasFile); err != nil {
			errs = append(errs, fmt.Errorf("SIM_SCHEMAS_FILE: %w", err))
		}
	}
	if c.OrgBookRate < 0 {
		errs = append(errs, fmt.Errorf("SIM_ORGBOOK_RATE: %v is negative (0 means no limit)", c.OrgBookRate))
	}
	if err := c.Faults.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// withDefaults fills the fields that have a default and are empty.
func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = ModeVonX
	}
	if c.Issuer == "" {
		c.Issuer = "bcreg"
	}
	c.Faults = c.Faults.withDefaults()
	if c.OrgBookFlush <= 0 {
		c.OrgBookFlush = Duration(time.Second)
	}
	return c
}

// Faults are the realism and fault settings. They are set at start-up through
// [Config] and can be changed at run time with [Sim.SetFaults] or
// POST /_sim/faults, whose JSON body uses the json names below and changes
// only the fields it contains.
//
// Faults other than rejections apply only to issue requests that the agent
// would accept (they pass the checks that give 400 or 500). At most one of
// drop, error, non-JSON and short happens to a request, chosen in that order
// of precedence; a hang can come on top of any of them.
type Faults struct {
	// Latency is the time of one store call to OrgBook. VON-X makes one per
	// (schema, version) group and handles the groups one after another, so a
	// batch of two groups waits twice; the controller makes one per
	// credential.
	Latency Dist `json:"latency" envconfig:"SIM_LATENCY"`
	// CredLatency is the time one credential holds one of the Capacity slots
	// while it is created (the agent's MAX_CONCURRENT_STORAGE semaphore). The
	// credentials of a group are created concurrently.
	CredLatency Dist `json:"cred_latency" envconfig:"SIM_CRED_LATENCY"`
	// Capacity is the number of credentials created at the same time; the
	// others wait in arrival order. Zero means no limit.
	Capacity int `json:"capacity" envconfig:"SIM_CAPACITY" default:"20"`
	// QueueLimit is how many credentials beyond Capacity may be in flight
	// (admitted and not yet answered) at once. A request that would go past it
	// is overloaded and handled as Overload says, before anything is issued.
	// Zero means no limit, as in the real agent; so does a Capacity of zero.
	QueueLimit int `json:"queue_limit" envconfig:"SIM_QUEUE_LIMIT"`
	// Overload is OverloadReject (503 at once) or OverloadHang. Empty means
	// OverloadReject.
	Overload string `json:"overload" envconfig:"SIM_OVERLOAD" default:"reject"`
	// OverloadPenalty slows an overloaded agent down: a credential that gets
	// its slot while n credentials are waiting holds it for
	// CredLatency × (1 + OverloadPenalty × n / Capacity). So a client that
	// sends more than the agent can take gets fewer credentials per second, not
	// more. Zero turns the slowdown off.
	OverloadPenalty float64 `json:"overload_penalty" envconfig:"SIM_OVERLOAD_PENALTY" default:"0.5"`
	// UnsyncedFor is how long the agent stays not synchronised, counted from
	// start-up (or from SetFaults at run time). A negative value means it never
	// synchronises, as an agent whose start-up sync failed. When read back it
	// holds the time that remains.
	UnsyncedFor Duration `json:"unsynced_for" envconfig:"SIM_UNSYNCED_FOR"`
	// ErrorRate is the probability that an issue request is answered with
	// ErrorStatus.
	ErrorRate float64 `json:"error_rate" envconfig:"SIM_ERROR_RATE"`
	// ErrorStatus is the status of injected errors (500–599). Zero means 500.
	ErrorStatus int `json:"error_status" envconfig:"SIM_ERROR_STATUS" default:"500"`
	// HangRate is the probability that an issue request hangs for HangFor.
	HangRate float64 `json:"hang_rate" envconfig:"SIM_HANG_RATE"`
	// HangFor is how long a hang lasts before the request goes on. Zero means
	// until the client disconnects or the simulator is closed.
	HangFor Duration `json:"hang_for" envconfig:"SIM_HANG_FOR"`
	// DropRate is the probability that the connection of an issue request is
	// closed without an answer.
	DropRate float64 `json:"drop_rate" envconfig:"SIM_DROP_RATE"`
	// NonJSONRate is the probability of a 200 reply that is an HTML page
	// (pipeline case P2).
	NonJSONRate float64 `json:"non_json_rate" envconfig:"SIM_NON_JSON_RATE"`
	// ShortRate is the probability of a short reply (pipeline case P3): a batch
	// reply without its last row, or a single-mode body cut in half. All
	// credentials are issued.
	ShortRate float64 `json:"short_rate" envconfig:"SIM_SHORT_RATE"`
	// AfterIssue moves hangs, drops, errors and non-JSON replies after the
	// credentials are issued: the credentials are recorded but the client does
	// not learn it. By default they happen before anything is issued.
	AfterIssue bool `json:"after_issue" envconfig:"SIM_FAULTS_AFTER_ISSUE"`
	// Rejections make the simulated OrgBook refuse credentials.
	Rejections Rejections `json:"rejections" envconfig:"SIM_REJECT"`
	// StoreTimeout is how long a store call matched by a timeout rejection
	// takes before it fails. Zero means the real client's timeout: 300 s in
	// VON-X mode (aiohttp's default), 120 s in controller mode
	// (MAX_CRED_RESPONSE_TIMEOUT).
	StoreTimeout Duration `json:"store_timeout" envconfig:"SIM_STORE_TIMEOUT"`
	// ServedBy, when not empty, is added as "served_by" to VON-X reply rows
	// the way OrgBook's X-Served-By header is.
	ServedBy string `json:"served_by" envconfig:"SIM_SERVED_BY"`
}

// Validate reports every problem of the fault settings at once.
func (f Faults) Validate() error {
	var errs []error
	if err := f.Latency.validate(); err != nil {
		errs = append(errs, fmt.Errorf("SIM_LATENCY: %w", err))
	}
	if err := f.CredLatency.validate(); err != nil {
		errs = append(errs, fmt.Errorf("SIM_CRED_LATENCY: %w", err))
	}
	if f.Capacity < 0 {
		errs = append(errs, fmt.Errorf("SIM_CAPACITY: %d is negative", f.Capacity))
	}
	if f.QueueLimit < 0 {
		errs = append(errs, fmt.Errorf("SIM_QUEUE_LIMIT: %d is negative", f.QueueLimit))
	}
	switch f.Overload {
	case "", OverloadReject, OverloadHang:
	default:
		errs = append(errs, fmt.Errorf("SIM_OVERLOAD: %q is neither %q nor %q", f.Overload, OverloadReject, OverloadHang))
	}
	if f.OverloadPenalty < 0 {
		errs = append(errs, fmt.Errorf("SIM_OVERLOAD_PENALTY: %g is negative", f.OverloadPenalty))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"SIM_ERROR_RATE", f.ErrorRate},
		{"SIM_HANG_RATE", f.HangRate},
		{"SIM_DROP_RATE", f.DropRate},
		{"SIM_NON_JSON_RATE", f.NonJSONRate},
		{"SIM_SHORT_RATE", f.ShortRate},
	} {
		if !(r.v >= 0 && r.v <= 1) {
			errs = append(errs, fmt.Errorf("%s: %g is not a probability between 0 and 1", r.name, r.v))
		}
	}
	if f.ErrorStatus != 0 && (f.ErrorStatus < 500 || f.ErrorStatus > 599) {
		errs = append(errs, fmt.Errorf("SIM_ERROR_STATUS: %d is not a 5xx status", f.ErrorStatus))
	}
	if f.HangFor < 0 {
		errs = append(errs, fmt.Errorf("SIM_HANG_FOR: %v is negative", f.HangFor))
	}
	if f.StoreTimeout < 0 {
		errs = append(errs, fmt.Errorf("SIM_STORE_TIMEOUT: %v is negative", f.StoreTimeout))
	}
	for i, r := range f.Rejections {
		if err := r.validate(); err != nil {
			errs = append(errs, fmt.Errorf("SIM_REJECT: rule %d: %w", i+1, err))
		}
	}
	return errors.Join(errs...)
}

func (f Faults) withDefaults() Faults {
	if f.Overload == "" {
		f.Overload = OverloadReject
	}
	if f.ErrorStatus == 0 {
		f.ErrorStatus = 500
	}
	f.Rejections = append(Rejections(nil), f.Rejections...)
	return f
}

// Duration is a time.Duration written as Go duration text ("250ms", "6m0s")
// in JSON and in environment variables.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(time.Duration(d).String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler. The empty string is zero.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Rejection is a rule that makes the simulated OrgBook refuse credentials.
//
// A rule matches a credential when Schema (if set) equals its schema name and
// Version (if set) equals the version it resolved to. Without Attribute the
// rule fails the whole (schema, version) group, as when OrgBook answers the
// group's store call with an HTTP error: every row gets
// "Bad response from post_json: (<Status>) <Message>" (case C16). With
// Attribute it fails only the matching rows, as when OrgBook refuses a row:
// "Credential was not stored: <Message>" (case C15). An attribute matches when
// its value written as text equals Value (strings as they are, null and a
// missing attribute as "", other values as JSON); Value "*" matches any value
// of an attribute that is present.
//
// With Timeout the store call hangs for StoreTimeout and then fails with
// "Connection timed out during post_json". In VON-X mode one store call
// carries a whole group, so the whole group times out.
//
// In controller mode a matching credential gets the aca-py problem-report
// result "<thread_id>::<Message>" (case A6), or with Timeout
// "<thread_id>::Error thread timeout" after StoreTimeout (case A5).
//
// Result, when set, replaces the whole result text.
type Rejection struct {
	Schema    string `json:"schema,omitempty"`
	Version   string `json:"version,omitempty"`
	Attribute string `json:"attribute,omitempty"`
	Value     string `json:"value,omitempty"`
	Timeout   bool   `json:"timeout,omitempty"`
	// Status is the HTTP status of a group rejection. Zero means 502.
	Status int `json:"status,omitempty"`
	// Message is OrgBook's text. Empty means "simulated rejection".
	Message string `json:"message,omitempty"`
	Result  string `json:"result,omitempty"`
}

func (r Rejection) validate() error {
	if r.Value != "" && r.Attribute == "" {
		return errors.New("value without attribute")
	}
	if r.Status != 0 && (r.Status < 100 || r.Status > 599) {
		return fmt.Errorf("status %d is not an HTTP status", r.Status)
	}
	return nil
}

func (r Rejection) message() string {
	if r.Message == "" {
		return "simulated rejection"
	}
	return r.Message
}

func (r Rejection) status() int {
	if r.Status == 0 {
		return 502
	}
	return r.Status
}

// Rejections is a list of rules. In an environment variable the rules are
// separated by ";" and each rule is either a schema name with an optional
// "/version" ("relationship.bc_registries/1.0.36") or comma-separated
// key=value pairs whose keys are the JSON names of [Rejection]
// ("schema=registration.bc_registries,attribute=entity_name,value=BAD").
// Values cannot contain "," or ";".
type Rejections []Rejection

// Decode implements envconfig.Decoder.
func (rs *Rejections) Decode(value string) error {
	var out Rejections
	for _, spec := range strings.Split(value, ";") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		r, err := parseRejection(spec)
		if err != nil {
			return fmt.Errorf("rejection %q: %w", spec, err)
		}
		out = append(out, r)
	}
	*rs = out
	return nil
}

func parseRejection(spec string) (Rejection, error) {
	var r Rejection
	if !strings.Contains(spec, "=") {
		r.Schema, r.Version, _ = strings.Cut(spec, "/")
		return r, nil
	}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return r, fmt.Errorf("%q is not key=value", kv)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "schema":
			r.Schema = v
		case "version":
			r.Version = v
		case "attribute":
			r.Attribute = v
		case "value":
			r.Value = v
		case "timeout":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return r, fmt.Errorf("timeout: %w", err)
			}
			r.Timeout = b
		case "status":
			n, err := strconv.Atoi(v)
			if err != nil {
				return r, fmt.Errorf("status: %w", err)
			}
			r.Status = n
		case "message":
			r.Message = v
		case "result":
			r.Result = v
		default:
			return r, fmt.Errorf("unknown key %q", k)
		}
	}
	return r, nil
}
