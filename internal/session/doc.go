// Package session issues, validates and revokes sign-in sessions. A session token is
// 32 random bytes handed to the browser in a cookie; the store keeps only its SHA-256.
// Validation on the request path is served from a bounded in-memory cache whose entries
// live for at most CacheTTL, so a revocation made elsewhere takes effect within that
// time, and one made through this Manager at once.
package session
