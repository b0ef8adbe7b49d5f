package builder

import (
	"runtime/debug"
	"testing"
)

// TestTuneGC checks that the builder collects at DefaultGCPercent unless
// GOGC is set.
func TestTuneGC(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		tuned bool
		want  int
	}{
		{"GOGC not set", map[string]string{}, true, DefaultGCPercent},
		{"GOGC set", map[string]string{"GOGC": "50"}, false, 100},
		{"GOGC set empty", map[string]string{"GOGC": ""}, false, 100},
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetGCPercent(100) // the runtime's default
			tuned := TuneGC(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if got := debug.SetGCPercent(100); tuned != tt.tuned || got != tt.want {
				t.Errorf("TuneGC = %v, GC percent %d; want %v, %d", tuned, got, tt.tuned, tt.want)
			}
		})
	}
}
