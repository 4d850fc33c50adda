// Package storetest is the conformance suite every store.Store backend runs, so that
// the SQLite, PostgreSQL (and any future) backends behave alike in everything the
// domain relies on: uniqueness, single use of tokens, an unforkable audit chain and,
// above all, tenant isolation.
//
// A backend's test calls Run with a function that opens a store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openForTest(t) })
//	}
//
// Every subtest creates its own tenants with random ids, slugs and hosts, so the suite
// may run against a database shared with other runs; it never assumes an empty store.
package storetest
