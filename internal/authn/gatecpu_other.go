//go:build !linux

package authn

import "time"

// cpuTime measures fn by the wall clock where the thread's CPU time is not at hand.
func cpuTime(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}
