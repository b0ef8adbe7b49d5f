package source_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/source"
)

// TestSnapshotJSON checks that Snapshot.JSON writes exactly what
// json.Marshal writes (corp_history_log's hash depends on it), error
// included, for random snapshots: every field of every type set or nil,
// lists nil, empty or full, strings that need escaping, times of every
// kind. A field added to a type but not to JSON fails it.
func TestSnapshotJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 2026))
	failed := 0
	for i := range 3000 {
		var s source.Snapshot
		fill(rng, reflect.ValueOf(&s).Elem(), 0)
		want, wantErr := json.Marshal(&s)
		got, gotErr := s.JSON()
		if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
			t.Fatalf("snapshot %d: error %v, want %v", i, gotErr, wantErr)
		}
		if wantErr != nil {
			failed++
		}
		if diff := gocmp.Diff(string(want), string(got)); diff != "" {
			t.Fatalf("snapshot %d: JSON differs from json.Marshal (-json.Marshal +JSON):\n%s", i, diff)
		}
	}
	// Both paths taken: most snapshots encode, some fail.
	if failed == 0 || failed > 1000 {
		t.Errorf("%d of 3000 snapshots failed to encode; want some, not most", failed)
	}
	t.Logf("%d of 3000 random snapshots failed to encode (a year after 9999)", failed)
}

// strs are strings encoding/json escapes in every way it can.
var strs = []string{"", "BC0191294", "CAFÉ CRÊPERIE", "<a href=\"x\">&amp;</a>", `back\slash`, "\x00\x01\x1f\x7f",
	"\b\f\n\r\t", "line\u2028para\u2029", "bad \xff\xfe utf-8", "cut \xc3", "emoji \U0001F600", "ok 123 !#$%'()*+,-./:;=?@[]^_`{|}~"}

var zones = []*time.Location{time.UTC, time.UTC, time.UTC, time.FixedZone("PST", -8*3600)}

func randomTime(rng *rand.Rand) time.Time {
	years := []int{1, 1004, 2004, 2026, 9998, 9999}
	year := years[rng.IntN(len(years))]
	if rng.IntN(2000) == 0 {
		year = 10000 // json.Marshal fails
	}
	return time.Date(year, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60),
		rng.IntN(60), []int{0, 0, 500_000_000, 123_456_789}[rng.IntN(4)], zones[rng.IntN(len(zones))])
}

// fill sets v (of the source model's types) to random values.
func fill(rng *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(strs[rng.IntN(len(strs))])
	case reflect.Int64:
		v.SetInt(rng.Int64N(1<<40) - 1<<39)
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Pointer:
		if rng.IntN(4) == 0 {
			return // nil
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(rng, v.Elem(), depth+1)
	case reflect.Slice:
		n := rng.IntN(4)
		if n == 0 && rng.IntN(2) == 0 {
			return // nil
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fill(rng, v.Index(i), depth+1)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(randomTime(rng)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(rng, v.Field(i), depth+1)
			}
		}
	default:
		panic("fill: unexpected kind " + v.Kind().String() + " of " + v.Type().String())
	}
}

// BenchmarkSnapshotJSON compares Snapshot.JSON with json.Marshal on one
// random snapshot that encodes, with the registry's times (UTC) and plain
// strings.
func BenchmarkSnapshotJSON(b *testing.B) {
	defer func(z []*time.Location, s []string) { zones, strs = z, s }(zones, strs)
	zones, strs = []*time.Location{time.UTC}, []string{"", "BC0191294", "HKPJULVNRGZXAONQQRJEWJIGL", "ACT", "2004-03-26"}
	rng := rand.New(rand.NewPCG(1, 2))
	var s source.Snapshot
	for {
		s = source.Snapshot{}
		fill(rng, reflect.ValueOf(&s).Elem(), 0)
		if _, err := json.Marshal(&s); err == nil {
			break
		}
	}
	b.Run("JSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.JSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
