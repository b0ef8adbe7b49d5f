package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStmtKeyMatchesLoggedText(t *testing.T) {
	// pg_stat_statements shows constants as $n; the log shows the text as
	// sent (parameters as $n too, constants as written).
	fromStats := "UPDATE credential_log SET claimed_until = now() + $3::interval WHERE claimed_by = $1 AND process_success IS NULL AND kind = $4"
	fromLog := "UPDATE credential_log\n   SET claimed_until = now() + $3::interval\n WHERE claimed_by = $1 AND process_success IS NULL AND kind = 'x'"
	if a, b := stmtKey(fromStats), stmtKey(fromLog); a != b {
		t.Errorf("keys differ:\n%q\n%q", a, b)
	}
	if stmtKey("SELECT a FROM t") == stmtKey("SELECT b FROM t") {
		t.Error("different statements share a key")
	}
}

func TestReadPlans(t *testing.T) {
	log := "2026-11-27 10:00:00.000 UTC [1] LOG:  checkpoint starting: time\n" +
		"2026-11-27 10:00:01.000 UTC [2] LOG:  duration: 45.500 ms  plan:\n" +
		"\tQuery Text: UPDATE credential_log\n" +
		"\t   SET published_at = now() WHERE credential_hash = ANY($1)\n" +
		"\tUpdate on credential_log  (cost=0.42..8.44 rows=0 width=0)\n" +
		"\t  ->  Index Scan using cl_hash_index on credential_log  (cost=0.42..8.44 rows=1 width=14)\n" +
		"2026-11-27 10:00:02.000 UTC [2] LOG:  duration: 90.000 ms  plan:\n" +
		"\tQuery Text: UPDATE credential_log SET published_at = now() WHERE credential_hash = ANY($1)\n" +
		"\tUpdate on credential_log  (cost=0.00..1319.87 rows=0 width=0)\n" +
		"\t  ->  Seq Scan on credential_log  (cost=0.00..1319.87 rows=3 width=14)\n" +
		"2026-11-27 10:00:03.000 UTC [3] LOG:  checkpoint complete\n"
	path := filepath.Join(t.TempDir(), "postgres.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	plans, err := readPlans(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := plans[stmtKey("UPDATE credential_log SET published_at = now() WHERE credential_hash = ANY($1)")]
	if p == nil {
		t.Fatalf("plan not found; keys: %v", plans)
	}
	if p.Count != 2 || p.Slowest != 90*time.Millisecond || !strings.Contains(p.Text, "Seq Scan") || strings.Contains(p.Text, "Query Text") {
		t.Errorf("plan = %+v", p)
	}
}

func TestReadPhases(t *testing.T) {
	log := `{"level":"info","msg":"consuming CorpEvents"}
{"level":"debug","msg":"batch phases","corporations":200,"lock":0.01,"load":0.1,"generate":0.02,"store":0.2,"publish":0.05}
{"level":"debug","msg":"batch phases","corporations":100,"lock":0.01,"load":0.1,"generate":0.02,"store":0.2,"publish":0.05}
`
	path := filepath.Join(t.TempDir(), "builder.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	ph, err := readPhases(path)
	if err != nil {
		t.Fatal(err)
	}
	if ph.Batches != 2 || ph.Corps != 300 || ph.Steps["store"] != 400*time.Millisecond {
		t.Errorf("phases = %+v", ph)
	}
}

func TestPercentiles(t *testing.T) {
	o := &ongoingResult{}
	for i := 1; i <= 200; i++ {
		o.Latencies = append(o.Latencies, time.Duration(i)*time.Millisecond)
	}
	if got := o.pct(0.5); got != 100*time.Millisecond {
		t.Errorf("p50 = %v", got)
	}
	if got := o.pct(0.99); got != 198*time.Millisecond {
		t.Errorf("p99 = %v", got)
	}
	if got := o.max(); got != 200*time.Millisecond {
		t.Errorf("max = %v", got)
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if s.HWM <= 0 || s.RSS <= 0 || s.PPID <= 0 {
		t.Errorf("sample = %+v", s)
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -2500: "-2,500"} {
		if got := num64(n); got != want {
			t.Errorf("num64(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestChildEnvDropsBCREG(t *testing.T) {
	t.Setenv("BCREG_LOG_LEVEL", "debug")
	for _, kv := range childEnv("BCREG_PROFILE=history") {
		if strings.HasPrefix(kv, "BCREG_LOG_LEVEL=") {
			t.Error("inherited BCREG_ setting passed to a child")
		}
	}
}
