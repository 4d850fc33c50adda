// Package notify e-mails users about security events (an account lock, a sign-in that
// looks unusual, a changed password) and sends the links they act on (an invitation,
// a password reset) through a durable outbox, so that an SMTP outage delays mail but
// never loses it.
//
// The flow has three steps, each behind a small type:
//
//   - Templates render a message kind (KindAccountLocked, KindNewSignIn, KindInvite,
//     KindPasswordReset, KindPasswordChanged) into a
//     subject, a plain-text body and an HTML body. The templates are embedded; an
//     operator may override any of them from a directory with the same file names.
//     Overrides are parsed and test-rendered when they are loaded, so a typo fails at
//     start rather than when the first alert is due.
//   - A Notifier renders a message and enqueues it in an Outbox, then kicks the
//     Worker. Enqueueing is the only thing the sign-in path waits for: it never waits
//     for SMTP.
//   - A Worker claims due messages from the Outbox, hands each to a Sender
//     (SMTPSender on wneessen/go-mail, or LogSender when no SMTP server is
//     configured) and records the outcome: sent, or failed with the error and an
//     exponential back-off (30 s, 1 m, 2 m … capped at 1 h). A message waits for the
//     server to come back for at most the retention (WorkerConfig.Retention, default
//     24 h): then it is dropped with its address and bodies (Outbox.DropExpired), so
//     the outbox keeps no personal data longer than that. Delivered mail leaves the
//     outbox at once.
//
// Outbox is declared here, by its consumer; the SQL store implements it and
// MemoryOutbox is the in-process version for tests and development. Every backend
// must pass the conformance suite in package outboxtest. Claims are leases: a
// claimed message is invisible to other workers until the lease runs out, so two
// gateway instances sharing a store never send the same message twice, and a worker
// that dies mid-send does not strand its messages.
//
// Delivery is at least once: if a worker sends a message and dies before recording
// it, the message goes out again after the lease. If only the record fails (the
// database is down after the handover), the worker retries the record, not the send,
// while its claim lasts, so a short outage sends nothing twice. Each message keeps its
// Message-ID across attempts so that receiving systems can recognise a repeat.
package notify
