package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/testkit/localpg"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// binaries are the commands `make build` produces, by the directory of
// their main package.
var binaries = map[string]string{
	"event-poller":       "services/event-poller",
	"credential-builder": "services/credential-builder",
	"poster":             "services/poster",
	"vonx-sim":           "services/vonx-sim",
	"bcregctl":           "services/bcregctl",
	"bcreg-dev":          "pkg/devkit/cmd/bcreg-dev",
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binDirFor returns a directory holding every binary: BCREG_E2E_BIN when
// set, else a fresh build of the workspace's services.
func binDirFor(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if d := os.Getenv("BCREG_E2E_BIN"); d != "" {
			binDir, buildErr = filepath.Abs(d)
			return
		}
		root, err := repoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "bcreg-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		for b, src := range binaries {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b), ".")
			cmd.Dir = filepath.Join(root, src)
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %w\n%s", b, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	for b := range binaries {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			t.Fatalf("binary %s missing in %s: %v", b, binDir, err)
		}
	}
	return binDir
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOWORK: %w", err)
	}
	w := strings.TrimSpace(string(out))
	if w == "" || w == "off" {
		return "", fmt.Errorf("e2e tests need the go.work workspace (or BCREG_E2E_BIN)")
	}
	return filepath.Dir(w), nil
}

// proc is a running service process with its output captured.
type proc struct {
	name string
	addr string // BCREG_HTTP_ADDR of a service started by startService
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a binary with env added to the test's environment; it is
// killed when the test ends if still running.
func start(t *testing.T, name string, env map[string]string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(binDirFor(t), name), args...)
	p.cmd.Env = os.Environ()
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- %s output ---\n%s", name, p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits for the exit, returning its error.
func (p *proc) stop(t *testing.T, within time.Duration) error {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(within):
		t.Fatalf("%s did not stop within %v after SIGTERM", p.name, within)
		return nil
	}
}

// waitHTTP polls url until it answers 200.
func waitHTTP(t *testing.T, p *proc, url string, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before %s answered: %v\n%s", p.name, url, p.err, p.out.String())
		case <-ctx.Done():
			t.Fatalf("%s: %s did not answer 200 within %v\n%s", p.name, url, within, p.out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := localpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}
