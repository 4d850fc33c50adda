// Package audit writes the tenant's append-only, hash-chained audit trail (SPEC §9).
// Each record carries the SHA-256 of the previous one, so removing, reordering or
// altering a record breaks the chain, which Verify detects.
package audit
