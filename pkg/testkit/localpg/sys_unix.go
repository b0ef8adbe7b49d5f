//go:build unix

package localpg

import "syscall"

// detachAttr puts the child in its own process group so a terminal's Ctrl-C
// reaches the launcher, which then stops PostgreSQL in order.
func detachAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
