module github.com/bcgov/bcreg-events/services/vonx-sim

go 1.26.0

require (
	github.com/bcgov/bcreg-events/pkg v0.0.0
	github.com/bcgov/bcreg-events/pkg/devkit v0.0.0-00010101000000-000000000000
	go.uber.org/zap v1.28.0
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/kelseyhightower/envconfig v1.4.0 // indirect
	github.com/kr/pretty v0.3.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.72.0 // indirect
	github.com/prometheus/procfs v0.23.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	gopkg.in/check.v1 v1.0.0-20201130134442-10cb98267c6c // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace (
	github.com/bcgov/bcreg-events/pkg => ../../pkg
	github.com/bcgov/bcreg-events/pkg/devkit => ../../pkg/devkit
	github.com/bcgov/bcreg-events/pkg/testkit => ../../pkg/testkit
)
