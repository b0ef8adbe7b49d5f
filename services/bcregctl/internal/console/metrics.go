package console

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the console's Prometheus metrics (bcreg_console_*), served on
// the side port like every service's.
type metrics struct {
	requests   *prometheus.CounterVec   // route, code
	duration   *prometheus.HistogramVec // route
	refused    prometheus.Counter
	samples    *prometheus.CounterVec // result: ok, error
	lastSample prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bcreg_console_requests_total", Help: "Console HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "bcreg_console_request_duration_seconds", Help: "Server time of console requests by route pattern.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5},
		}, []string{"route"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bcreg_console_refused_total", Help: "State-changing requests refused (read-only console, wrong token, CSRF or cross-origin).",
		}),
		samples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bcreg_console_samples_total", Help: "Samples of the pipeline's figures for the charts, by result (ok, error).",
		}, []string{"result"}),
		lastSample: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bcreg_console_last_sample_timestamp_seconds", Help: "Unix time of the last successful sample.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.refused, m.samples, m.lastSample} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.samples.WithLabelValues("ok")
	m.samples.WithLabelValues("error")
	return m, nil
}

// instrument counts and times each request by the pattern the mux matched
// (bounded label values; "unmatched" for requests no route took, and for
// cross-origin ones refused before routing). The handlers below h pass the
// same *http.Request on, so the mux's r.Pattern is visible here.
func (m *metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
