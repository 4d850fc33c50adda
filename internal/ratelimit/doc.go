// Package ratelimit throttles Gatehouse's own endpoints per endpoint class, per client
// IP (IPv6 grouped by /64, so one host cannot rotate through its addresses) and per
// user, on ulule/limiter: a memory store by default, Redis when configured so that all
// instances share the counts. When Redis fails, limits fall back to this instance's
// memory (reported through OnDegraded; Watch probes Redis in the background so the
// report follows an outage and a recovery without traffic) rather than stop or open: throttles are a
// brake, not a door; the doors (password, second factor) fail closed elsewhere.
package ratelimit
