// Package outboxtest is the conformance suite every notify.Outbox backend runs:
// the in-memory outbox in package notify, the SQL store's outbox in its own tests.
// It checks the contract written on notify.Outbox, above all that a claim is
// exclusive for its lease even under concurrent claimers.
//
//	func TestOutbox(t *testing.T) {
//		outboxtest.Run(t, func(t *testing.T) notify.Outbox { return openEmptyOutbox(t) })
//	}
package outboxtest
