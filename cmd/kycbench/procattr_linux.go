//go:build linux

package main

import "syscall"

// childAttr makes the kernel send SIGTERM to a server kycbench started if
// kycbench dies without stopping it (SIGKILL, a crash), instead of leaving
// it to hold ports and files.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
