package caddymodule

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

func TestKVChallengesAreSingleUse(t *testing.T) {
	c := kvChallenges{kv: kv.NewMemory(clock.Real{}, 100)}
	ctx := context.Background()
	if err := c.Put(ctx, "abc", []byte("state"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Take(ctx, "abc"); err != nil || string(b) != "state" {
		t.Fatalf("take: %q %v", b, err)
	}
	if _, err := c.Take(ctx, "abc"); !errors.Is(err, passkey.ErrChallengeNotFound) {
		t.Fatalf("second take: %v", err)
	}
}
