// Package kv holds Gatehouse's hot shared state — lockout counters, passkey ceremony
// state — in memory (one instance) or in Redis (several instances behave as one).
// Every operation is atomic in both backends; a backend that cannot answer returns an
// error wrapping ErrUnavailable, and callers on security paths then fail closed.
package kv

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable: the backend could not be reached or did not answer in time.
var ErrUnavailable = errors.New("kv backend unavailable")

// ErrNotFound: no such key (or it expired, or was already taken).
var ErrNotFound = errors.New("kv key not found")

// Store is a small, atomic key-value store with expiry.
type Store interface {
	// Incr atomically adds 1 to the integer at key and returns the new value. A key
	// that does not exist starts at 0 and gets ttl; an existing key keeps its expiry.
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
	// Decr atomically subtracts 1 from the integer at key and returns the new value. A
	// key that reaches 0 is removed (so the next Incr starts a new expiry), a missing
	// key stays missing and Decr returns 0; otherwise the key keeps its expiry. Counts
	// of work in flight kept with Incr/Decr therefore never drift below zero when a key
	// expires while its holders are still running.
	Decr(ctx context.Context, key string) (int64, error)
	// GetInt returns the integer at key (0 when missing).
	GetInt(ctx context.Context, key string) (int64, error)
	// SetInt stores v at key with ttl (ttl <= 0: no expiry).
	SetInt(ctx context.Context, key string, v int64, ttl time.Duration) error
	// TTL returns the time left on key (0 when missing or without expiry).
	TTL(ctx context.Context, key string) (time.Duration, error)
	// Del removes keys (missing keys are fine). On one server it is atomic; on a Redis
	// Cluster, where the keys may live on different nodes, it deletes them one by one.
	Del(ctx context.Context, keys ...string) error
	// Put stores data at key with ttl.
	Put(ctx context.Context, key string, data []byte, ttl time.Duration) error
	// Take atomically returns and deletes the data at key: exactly one of several
	// concurrent Takes gets it; the others get ErrNotFound.
	Take(ctx context.Context, key string) ([]byte, error)
	// Ping checks the backend.
	Ping(ctx context.Context) error
	// Close releases connections.
	Close() error
}
