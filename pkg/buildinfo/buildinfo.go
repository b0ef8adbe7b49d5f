// Package buildinfo holds the version a binary was built as, set at link
// time by the Makefile and the Dockerfiles:
//
//	-X github.com/bcgov/bcreg-events/pkg/buildinfo.Version=0.1.0
//	-X github.com/bcgov/bcreg-events/pkg/buildinfo.Commit=<git describe>
//	-X github.com/bcgov/bcreg-events/pkg/buildinfo.Date=<commit date>
//
// The release version comes from the repository's VERSION file, the one
// place the image tags of deploy/k8s and the Makefile share. Every service
// logs it at start, serves it on /version and exports it as
// bcreg_build_info{version,commit,go_version} 1.
package buildinfo

import (
	"encoding/json"
	"net/http"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Set by -ldflags -X; the defaults mark a binary built without them
// (go run, go test).
var (
	Version = "dev"
	Commit  = "unknown"
	Date    = "unknown"
)

// Info is the build of this binary, as /version serves it.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
}

// Get returns this binary's build.
func Get() Info {
	return Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version()}
}

// String is the one-line form: "0.1.0 (commit 0123abcd, 2026-01-02T03:04:05Z, go1.26.0)".
func (i Info) String() string {
	return i.Version + " (commit " + i.Commit + ", " + i.Date + ", " + i.GoVersion + ")"
}

// Fields are the zap fields a start-up log line carries.
func (i Info) Fields() []zap.Field {
	return []zap.Field{zap.String("version", i.Version), zap.String("commit", i.Commit),
		zap.String("build_date", i.Date), zap.String("go_version", i.GoVersion)}
}

// Register adds bcreg_build_info{version,commit,go_version} 1 to reg, the
// usual info metric: joined on by dashboards to label a series with the
// build that produced it.
func Register(reg prometheus.Registerer) error {
	i := Get()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bcreg_build_info",
		Help: "Always 1; the labels say which build this process runs."},
		[]string{"version", "commit", "go_version"})
	g.WithLabelValues(i.Version, i.Commit, i.GoVersion).Set(1)
	return reg.Register(g)
}

// Handler serves the build as JSON (GET /version).
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Get())
	})
}
