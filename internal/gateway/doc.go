// Package gateway decides one proxied request: strip the client's identity headers,
// resolve the tenant, route portal paths to the portal, normalise the path, match the
// policy, validate the session, and either allow (with the verified identity headers
// set) or deny (302 to sign-in for browsers, 401/403 JSON for API clients, 400 for
// ambiguous paths, 503 when the store fails). Any failure to parse or decide denies.
package gateway
