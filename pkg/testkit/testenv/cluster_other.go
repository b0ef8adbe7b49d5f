//go:build !linux

package testenv

import "syscall"

func nodeAttr() *syscall.SysProcAttr { return nil }
