package agentsim

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kelseyhightower/envconfig"
)

func TestDefaultConfigIsEnvconfigsDefault(t *testing.T) {
	var cfg Config
	if err := envconfig.Process("BCREG_AGENTSIM_TEST_EMPTY", &cfg); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultConfig(), cfg); diff != "" {
		t.Errorf("envconfig defaults (-DefaultConfig +envconfig):\n%s", diff)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("default config does not validate: %v", err)
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	env := map[string]string{
		"BCREG_SIM_MODE":               "controller",
		"BCREG_SIM_ADDR":               ":5002",
		"BCREG_SIM_ISSUER":             "bcreg-x",
		"BCREG_SIM_SCHEMAS_FILE":       "testdata/test_schemas.yml",
		"BCREG_SIM_SEED":               "7",
		"BCREG_SIM_LATENCY":            "normal(7s,1s)",
		"BCREG_SIM_CRED_LATENCY":       "50ms..150ms",
		"BCREG_SIM_CAPACITY":           "8",
		"BCREG_SIM_QUEUE_LIMIT":        "100",
		"BCREG_SIM_OVERLOAD":           "hang",
		"BCREG_SIM_OVERLOAD_PENALTY":   "1.5",
		"BCREG_SIM_UNSYNCED_FOR":       "30s",
		"BCREG_SIM_ERROR_RATE":         "0.01",
		"BCREG_SIM_ERROR_STATUS":       "502",
		"BCREG_SIM_HANG_RATE":          "0.02",
		"BCREG_SIM_HANG_FOR":           "6m",
		"BCREG_SIM_DROP_RATE":          "0.03",
		"BCREG_SIM_NON_JSON_RATE":      "0.04",
		"BCREG_SIM_SHORT_RATE":         "0.05",
		"BCREG_SIM_FAULTS_AFTER_ISSUE": "true",
		"BCREG_SIM_REJECT":             "address.bc_registries; attribute=entity_name,value=BAD,message=bad name",
		"BCREG_SIM_STORE_TIMEOUT":      "1s",
		"BCREG_SIM_SERVED_BY":          "tob-1",
		"BCREG_SIM_ORGBOOK_DB_URL":     "postgres://orgbook@db/orgbook",
		"BCREG_SIM_ORGBOOK_FLUSH":      "250ms",
		"BCREG_SIM_ORGBOOK_RATE":       "25",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var got Config
	if err := envconfig.Process("BCREG", &got); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Mode: ModeController, Addr: ":5002", Issuer: "bcreg-x", SchemasFile: "testdata/test_schemas.yml", Seed: 7,
		OrgBookDBURL: "postgres://orgbook@db/orgbook", OrgBookFlush: Duration(250 * time.Millisecond), OrgBookRate: 25,
		Faults: Faults{
			Latency:         Normal(7*time.Second, time.Second),
			CredLatency:     Uniform(50*time.Millisecond, 150*time.Millisecond),
			Capacity:        8,
			QueueLimit:      100,
			Overload:        OverloadHang,
			OverloadPenalty: 1.5,
			UnsyncedFor:     Duration(30 * time.Second),
			ErrorRate:       0.01,
			ErrorStatus:     502,
			HangRate:        0.02,
			HangFor:         Duration(6 * time.Minute),
			DropRate:        0.03,
			NonJSONRate:     0.04,
			ShortRate:       0.05,
			AfterIssue:      true,
			Rejections: Rejections{
				{Schema: "address.bc_registries"},
				{Attribute: "entity_name", Value: "BAD", Message: "bad name"},
			},
			StoreTimeout: Duration(time.Second),
			ServedBy:     "tob-1",
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestEnvNamesAreUnique walks the envconfig tags: every field has a
// SIM_-prefixed name of its own.
func TestEnvNamesAreUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Anonymous {
				walk(f.Type)
				continue
			}
			name := f.Tag.Get("envconfig")
			if !strings.HasPrefix(name, "SIM_") {
				t.Errorf("field %s: envconfig name %q does not start with SIM_", f.Name, name)
			}
			if other, dup := seen[name]; dup {
				t.Errorf("fields %s and %s share %s", other, f.Name, name)
			}
			seen[name] = f.Name
		}
	}
	walk(reflect.TypeFor[Config]())
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	cfg := Config{
		Mode:        "agent",
		Addr:        "localhost",
		Issuer:      "a/b",
		SchemasFile: "testdata/missing.yml",
		Faults: Faults{
			Latency:         Dist{Kind: DistUniform, A: 2, B: 1},
			Capacity:        -1,
			QueueLimit:      -2,
			Overload:        "drop",
			OverloadPenalty: -1,
			ErrorRate:       1.5,
			HangRate:        -0.1,
			ErrorStatus:     404,
			HangFor:         -1,
			StoreTimeout:    -1,
			Rejections:      Rejections{{Value: "x"}, {Attribute: "a", Status: 99}},
		},
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad config")
	}
	for _, want := range []string{
		"SIM_MODE", "SIM_ADDR", "SIM_ISSUER", "SIM_SCHEMAS_FILE", "SIM_LATENCY", "SIM_CAPACITY",
		"SIM_QUEUE_LIMIT", "SIM_OVERLOAD:", "SIM_OVERLOAD_PENALTY", "SIM_ERROR_RATE", "SIM_HANG_RATE",
		"SIM_ERROR_STATUS", "SIM_HANG_FOR", "SIM_STORE_TIMEOUT", "SIM_REJECT: rule 1", "SIM_REJECT: rule 2",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s:\n%v", want, err)
		}
	}
	if got := strings.Count(err.Error(), "\n") + 1; got != 16 {
		t.Errorf("%d problems reported, want 16:\n%v", got, err)
	}
	if _, err := New(cfg, nil); err == nil {
		t.Errorf("New accepted a bad config")
	}
}

func TestZeroConfigTakesDefaults(t *testing.T) {
	t.Parallel()
	s, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.cfg.Mode != ModeVonX || s.cfg.Issuer != "bcreg" || s.cfg.Overload != OverloadReject || s.cfg.ErrorStatus != 500 {
		t.Errorf("defaults not applied: %+v", s.cfg)
	}
}

func TestParseDist(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Dist
		text    string
		wantErr bool
	}{
		{"", Dist{}, "0s", false},
		{"0", Dist{}, "0s", false},
		{"0s", Dist{}, "0s", false},
		{"150ms", Fixed(150 * time.Millisecond), "150ms", false},
		{"uniform(50ms, 150ms)", Uniform(50*time.Millisecond, 150*time.Millisecond), "uniform(50ms,150ms)", false},
		{"50ms..150ms", Uniform(50*time.Millisecond, 150*time.Millisecond), "uniform(50ms,150ms)", false},
		{"normal(7s,1s)", Normal(7*time.Second, time.Second), "normal(7s,1s)", false},
		{"uniform(2s,1s)", Dist{}, "", true},
		{"normal(1s)", Dist{}, "", true},
		{"-1s", Dist{}, "", true},
		{"fast", Dist{}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDist(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseDist(%q) error %v, want error %v", tc.in, err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseDist(%q) (-want +got):\n%s", tc.in, diff)
			}
			if got.String() != tc.text {
				t.Errorf("String() = %q, want %q", got.String(), tc.text)
			}
			again, err := ParseDist(got.String())
			if err != nil || again != got {
				t.Errorf("round trip of %q: %v, %v", got.String(), again, err)
			}
		})
	}
}

func TestDistSample(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name     string
		d        Dist
		min, max time.Duration
	}{
		{"none", Dist{}, 0, 0},
		{"fixed", Fixed(time.Second), time.Second, time.Second},
		{"uniform", Uniform(10*time.Millisecond, 20*time.Millisecond), 10 * time.Millisecond, 20 * time.Millisecond},
		{"normal_cut_at_zero", Normal(time.Millisecond, time.Second), 0, time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sum time.Duration
			for range 1000 {
				v := tc.d.sample(r)
				if v < tc.min || v > tc.max {
					t.Fatalf("sample %v outside [%v, %v]", v, tc.min, tc.max)
				}
				sum += v
			}
			if tc.d.Kind == DistUniform {
				if mean := sum / 1000; mean < 14*time.Millisecond || mean > 16*time.Millisecond {
					t.Errorf("mean %v, want about 15ms", mean)
				}
			}
		})
	}
}

func TestRejectionsDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Rejections
		wantErr string
	}{
		{"", nil, ""},
		{"relationship.bc_registries", Rejections{{Schema: rel36}}, ""},
		{"relationship.bc_registries/1.0.36 ; registration.registries.ca",
			Rejections{{Schema: rel36, Version: "1.0.36"}, {Schema: reg42}}, ""},
		{"schema=a,version=1,attribute=b,value=c,timeout=true,status=503,message=m,result=r",
			Rejections{{Schema: "a", Version: "1", Attribute: "b", Value: "c", Timeout: true, Status: 503, Message: "m", Result: "r"}}, ""},
		{"schema=a,colour=red", nil, `unknown key "colour"`},
		{"schema=a,timeout=maybe", nil, "timeout"},
		{"schema=a,b", nil, "is not key=value"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			var got Rejections
			err := got.Decode(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Decode(%q) error %v, want %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Decode(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}
