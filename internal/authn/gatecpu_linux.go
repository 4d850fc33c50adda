package authn

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// cpuTime runs fn on a locked OS thread and returns the CPU time that thread spent on
// it (user + system): what the hash really cost, however busy the machine was. It
// falls back to the wall time if the kernel cannot tell.
func cpuTime(fn func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after unix.Rusage
	start := time.Now()
	errBefore := unix.Getrusage(unix.RUSAGE_THREAD, &before)
	fn()
	if errBefore != nil || unix.Getrusage(unix.RUSAGE_THREAD, &after) != nil {
		return time.Since(start)
	}
	used := func(r unix.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return used(after) - used(before)
}
