// Package deploy holds no code: its tests validate the deployment files
// (docker-compose.yml, and the Kubernetes manifests) offline, since this
// project's machines have no Docker engine or cluster to try them on.
package deploy
