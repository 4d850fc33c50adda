// Package audit writes the tenant's append-only, hash-chained audit trail (SPEC §9).
// Each record carries the SHA-256 of the previous one, so removing, reordering or
// altering a record breaks the chain, which Verify detects. Records leave only by
// retention (Expirer), under a signed cut from which Chain then verifies the rest.
// Records of chain version 2 (digest.go) hash their personal fields only through a
// keyed digest, so those fields can be erased (GDPR) without breaking the chain;
// verification with the digest key also checks them.
package audit
