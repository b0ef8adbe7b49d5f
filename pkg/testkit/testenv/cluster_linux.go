package testenv

import "syscall"

// nodeAttr makes a node process die with the test binary (a test killed
// by its timeout leaves no NATS server behind).
func nodeAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
