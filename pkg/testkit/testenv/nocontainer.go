//go:build !testcontainers

package testenv

// startContainer is the default build: no testcontainers-go, so `make test`
// stays lean; build with -tags testcontainers to try a Docker engine first.
func startContainer() (url string, stop func(), ok bool) { return "", nil, false }
