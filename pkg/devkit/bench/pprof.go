package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// pprofChunk is the length of one CPU profile fetched from a service's
// side port: the recording is a series of them (the run's length is not
// known in advance), merged when it stops; the one cut short is dropped.
const pprofChunk = 5 * time.Second

// pprofRecorder takes CPU profiles of a stage's services through their
// side ports (BCREG_PPROF=true), so the report names the Go functions that
// cost the slowest stage its time, beside pg_stat_statements' statements.
type pprofRecorder struct {
	dir, bin string
	role     string
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	files    []string
	errs     []error
}

// goProfile is what the report shows of the recording.
type goProfile struct {
	Role string // the services profiled (role prefix)
	Top  string // `go tool pprof -top` of the merged profiles
	Err  string // why there is no profile
}

// startPprof profiles every process of r whose role starts with role
// (binary bin) until stop.
func (r *pipeRun) startPprof(role, bin string) *pprofRecorder {
	dir, _ := filepath.Abs(filepath.Join(r.b.c.logDir, "pprof", r.name))
	_ = os.MkdirAll(dir, 0o755)
	ctx, cancel := context.WithCancel(context.Background())
	p := &pprofRecorder{dir: dir, bin: filepath.Join(r.b.opts.BinDir, bin), role: role, cancel: cancel}
	for _, pr := range r.procs {
		if !strings.HasPrefix(r.roles[pr], role) || pr.addr == "" {
			continue
		}
		p.wg.Add(1)
		go p.loop(ctx, r.roles[pr], pr.addr)
	}
	return p
}

// loop fetches one chunk after another from one service.
func (p *pprofRecorder) loop(ctx context.Context, name, addr string) {
	defer p.wg.Done()
	for i := 0; ctx.Err() == nil; i++ {
		file := filepath.Join(p.dir, fmt.Sprintf("%s-%03d.pb.gz", name, i))
		err := fetchProfile(ctx, addr, file)
		p.mu.Lock()
		switch {
		case err == nil:
			p.files = append(p.files, file)
		case ctx.Err() == nil:
			p.errs = append(p.errs, fmt.Errorf("%s: %w", name, err))
		}
		p.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			return // the service does not serve profiles: say so once
		}
	}
}

func fetchProfile(ctx context.Context, addr, file string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(pprofChunk.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: GET %s: %s (BCREG_PPROF off?)", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("pprof: read: %w", err)
	}
	return os.WriteFile(file, b, 0o644)
}

// stop ends the recording and summarises it with `go tool pprof`.
func (p *pprofRecorder) stop() *goProfile {
	if p == nil {
		return nil
	}
	p.cancel()
	p.wg.Wait()
	prof := &goProfile{Role: p.role}
	if len(p.files) == 0 {
		prof.Err = "no CPU profile recorded (run shorter than " + pprofChunk.String() + ")"
		if err := errors.Join(p.errs...); err != nil {
			prof.Err = err.Error()
		}
		return prof
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"tool", "pprof", "-top", "-nodecount=25", p.bin}, p.files...)
	out, err := exec.CommandContext(ctx, "go", args...).Output()
	if err != nil {
		prof.Err = fmt.Sprintf("go tool pprof: %v", err)
		return prof
	}
	prof.Top = pprofTop(string(out))
	return prof
}

// pprofTop keeps the header's totals and the table of a `pprof -top`
// output, without the file and build lines before them.
func pprofTop(out string) string {
	var keep []string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if strings.HasPrefix(line, "File:") || strings.HasPrefix(line, "Build ID:") || strings.HasPrefix(line, "Type:") ||
			strings.HasPrefix(line, "Time:") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}
