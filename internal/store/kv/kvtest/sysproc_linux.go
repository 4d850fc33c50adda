package kvtest

import "syscall"

// sysProcAttr makes the kernel kill redis-server if the test binary dies without
// running its cleanups (a panic, a -timeout), so no private server outlives its test.
// Pdeathsig follows the thread that started the child; Go keeps that thread alive
// unless a goroutine exits while locked to it, which tests here do not do.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
