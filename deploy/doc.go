// Package deploy holds no code: its tests validate the deployment files
// offline, since this project's machines have no Docker engine or cluster to
// try them on: docker-compose.yml, the Kustomize overlays under k8s/ (built
// with the kustomize API, every object decoded strictly, policy checks), the
// NATS Helm values under nats/, and the runbook docs/operations.md (its
// bcregctl commands are run with --help). It also checks the repository as a
// whole stands alone: no file refers outside it, every document link and
// cited docs path names a file it holds (standalone_test.go).
package deploy
