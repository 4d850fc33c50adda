package audit

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// every runs once at once, then every tick, until ctx ends (the background jobs).
func every(ctx context.Context, tick time.Duration, once func(context.Context)) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// cmpOr is d, or def when d is not positive.
func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// orNop is l, or a logger that drops everything.
func orNop(l *zap.Logger) *zap.Logger {
	if l == nil {
		return zap.NewNop()
	}
	return l
}
