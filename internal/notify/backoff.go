package notify

import "time"

// Default retry delays: 30 s after the first failed attempt, doubling, at most 1 h.
const (
	DefaultRetryBase = 30 * time.Second
	DefaultRetryMax  = time.Hour
)

// retryDelay is the wait after the attempts-th failed attempt (1-based): base,
// 2·base, 4·base … capped at max. It is deterministic: the messages that queue up
// during an outage retry together, which one SMTP connection each handles fine,
// and tests can name the exact next attempt.
func retryDelay(attempts int, base, max time.Duration) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	d := base
	for i := 1; i < attempts; i++ {
		if d >= max/2 {
			return max
		}
		d *= 2
	}
	return min(d, max)
}
