//go:build !linux

package main

import "syscall"

// childAttr is nil where there is no parent-death signal. kycbench reads
// /proc and so measures only on Linux, but it still builds elsewhere so that
// `go build ./...` and `go vet ./...` work on any developer's machine.
func childAttr() *syscall.SysProcAttr { return nil }
