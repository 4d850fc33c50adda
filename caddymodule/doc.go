// Package caddymodule is the only package that imports Caddy. It registers the
// `gatehouse` app (global option) and the `http.handlers.gatehouse` handler (directive),
// translates their configuration into the constructors of internal/, and adds
// Gatehouse's CLI commands to the Caddy binary.
package caddymodule
