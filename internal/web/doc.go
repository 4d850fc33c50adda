// Package web serves Gatehouse's own pages and JSON API under the portal prefix
// (/auth by default): sign-in, sign-out and first-run setup so far. Every response
// carries a strict CSP, nosniff, a same-origin referrer policy and frame-ancestors
// 'none'; every form is CSRF-protected; the JSON API refuses form bodies and
// cross-site requests; redirect targets are same-site paths only.
package web
