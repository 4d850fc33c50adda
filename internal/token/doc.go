// Package token issues and checks Gatehouse's JSON Web Tokens: the deployment's ES256
// signing keys (KeyRing: sealed in the store with the master key, published as a JWKS,
// rotated with a publish lead and a retirement delay), access tokens for API clients
// and single-page apps with refresh tokens rotated on every use and theft detection
// (Service), the bounded-cache verification of bearer tokens on the request path
// (Verifier), and the X-Gatehouse-Assertion that tells an upstream who is calling
// (Assertions: minted once per session and interval, never per request).
package token
