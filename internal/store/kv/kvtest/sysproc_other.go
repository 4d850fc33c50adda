//go:build unix && !linux

package kvtest

import "syscall"

// sysProcAttr: only Linux can tie the child's life to ours; elsewhere the test's
// cleanup is what stops the server.
func sysProcAttr() *syscall.SysProcAttr { return nil }
