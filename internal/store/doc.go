// Package store declares the records Gatehouse keeps and the small interfaces the
// domain packages need from a backend. Backends live in sub-packages (sqlstore for
// SQLite and PostgreSQL) and all pass the conformance suite in internal/storetest.
//
// Tenant data is reachable only through a tenant-bound handle (Store.Tenant), so no
// query on tenant data can run without a tenant: the handle supplies the tenant id to
// every statement.
package store
