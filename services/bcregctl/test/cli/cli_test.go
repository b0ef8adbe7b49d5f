package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/cli"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// run runs bcregctl with args and returns its exit status and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli.Run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestMigrateIsIdempotent(t *testing.T) {
	dbURL := testenv.NewDatabase(t)
	n := testenv.NewNATS(t)
	t.Setenv("BCREG_EVENT_DB_URL", dbURL)
	t.Setenv("BCREG_NATS_URL", n.URL())
	for i := 1; i <= 2; i++ {
		code, stdout, stderr := run(t, "migrate")
		if code != 0 {
			t.Fatalf("run %d: exit %d\n%s", i, code, stderr)
		}
		// The answer on stdout; nothing logged at the default level (it
		// logged INFO lines, the answer among them, on stderr).
		if !strings.Contains(stdout, "JetStream topology applied") || stderr != "" {
			t.Errorf("run %d: stdout %q, stderr %q", i, stdout, stderr)
		}
	}
	_, js := n.Connect(t)
	ctx := testenv.Context(t)
	var names []string
	for name := range js.StreamNames(ctx).Name() {
		names = append(names, name)
	}
	want := []string{bus.StreamAdvisories, bus.StreamCreds, bus.StreamDLQ, bus.StreamEvents}
	if diff := cmp.Diff(want, sorted(names)); diff != "" {
		t.Errorf("streams (-want +got):\n%s", diff)
	}
	var tables int
	if err := testenv.Pool(t, dbURL).QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname='public'").Scan(&tables); err != nil || tables < 8 {
		t.Errorf("tables = %d, %v; want the event-processor schema", tables, err)
	}
}

func TestGenerateSnapshot(t *testing.T) {
	tmpl := sourcetest.Template(t)
	expected := sourcetest.LoadExpected(t, "dev_expected_8bc273a.json")
	group := "corp_9645624"
	corps := expected.CorpNums(group)
	if len(corps) == 0 {
		t.Fatalf("group %s not in the oracle", group)
	}
	t.Setenv("BCREG_SOURCE_DB_URL", sourcetest.GroupDatabase(t, tmpl, group))
	args := append([]string{"generate", "--profile", "snapshot", "--now", "2026-11-27T00:00:00"}, corps...)
	args = append(args, "NOSUCH1")
	code, stdout, stderr := run(t, args...)
	if code != 1 {
		t.Errorf("exit %d, want 1 (one corporation errored)\n%s", code, stderr)
	}
	type line struct {
		CorpNum        string `json:"corp_num"`
		Type           string `json:"type"`
		CredentialJSON string `json:"credential_json"`
		Hash           string `json:"hash"`
		Held           *bool  `json:"held"`
		Error          string `json:"error"`
	}
	var got []line
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("stdout line is not JSON: %q: %v", sc.Text(), err)
		}
		got = append(got, l)
	}
	var want []line
	for _, c := range corps {
		for _, ec := range expected[group][c].Credentials {
			held := ec.InitialProcessSuccess != nil && *ec.InitialProcessSuccess == "A"
			want = append(want, line{CorpNum: c, Type: ec.CredType, CredentialJSON: ec.CredentialJSON, Hash: ec.CredentialHash, Held: &held})
		}
	}
	if len(got) == 0 || got[len(got)-1].CorpNum != "NOSUCH1" || got[len(got)-1].Error == "" {
		t.Fatalf("last line should be an error for NOSUCH1, got %+v", got)
	}
	if diff := cmp.Diff(want, got[:len(got)-1]); diff != "" {
		t.Errorf("generate output (-want +got):\n%s", diff)
	}
	if strings.Contains(stdout, `"level"`) {
		t.Error("log lines on stdout")
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
