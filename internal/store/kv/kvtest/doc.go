// Package kvtest holds what tests need around kv stores: the conformance suite that
// every kv.Store backend passes (Run), the shared test Redis (SharedRedisURL,
// OpenRedis), and private, killable redis-server processes (StartPrivateRedis) for
// testing what happens when Redis goes away — the fail-closed paths.
//
// Service rule, as for PostgreSQL in internal/testpg: outside CI a missing Redis
// skips the test with the reason; with CI set it fails, so CI never passes by
// skipping.
package kvtest
