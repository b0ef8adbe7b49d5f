// Package pkg is the root of the shared libraries of bcreg-events. Every
// service imports the packages below it; no package here imports a service.
package pkg
