package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scrape reads a side port's /metrics: each series by its full name (with
// labels) and each metric name summed over its labels.
func scrape(ctx context.Context, addr string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/metrics: %s", addr, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		series := line[:i]
		out[series] += v
		if j := strings.IndexByte(series, '{'); j >= 0 {
			out[series[:j]] += v
		}
	}
	return out, sc.Err()
}

// posterMetrics are the posters' own figures of a posting run, summed over
// the replicas.
type posterMetrics struct {
	Requests    float64 // issue requests sent
	RequestTime float64 // seconds, summed over requests
	Credentials float64 // credentials answered Y
	Limit       float64 // adaptive concurrency limits at the end, summed
	MaxInflight float64 // BCREG_POSTER_MAX_INFLIGHT × replicas
	HeldBack    float64 // bundles held behind an older outstanding credential
}

func (p *posterMetrics) add(m map[string]float64) {
	p.Requests += m["bcreg_poster_request_duration_seconds_count"]
	p.RequestTime += m["bcreg_poster_request_duration_seconds_sum"]
	p.Credentials += m[`bcreg_poster_credentials_total{status="Y"}`]
	p.Limit += m["bcreg_poster_concurrency_limit"]
	p.HeldBack += m["bcreg_poster_held_back_total"]
}

func (p *posterMetrics) meanRequest() time.Duration {
	if p.Requests == 0 {
		return 0
	}
	return time.Duration(p.RequestTime / p.Requests * float64(time.Second))
}

func (p *posterMetrics) credsPerRequest() float64 {
	if p.Requests == 0 {
		return 0
	}
	return p.Credentials / p.Requests
}
