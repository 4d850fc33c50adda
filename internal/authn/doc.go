// Package authn runs the sign-in use cases: password, second factor (TOTP, recovery
// code, passkey), the tenant's second-factor policy and forced enrolment, the anomaly
// gate, lockout with back-off, the hashing budget, first-run setup and sign-out.
//
// SignIn is the entry point the portal and any other front end call: each step audits
// itself before it answers and returns an Outcome (signed in, second factor due,
// enrolment required, locked until, refused …). Wrong credentials are an outcome, not an
// error: an unknown e-mail, a wrong password and an account that may not sign in get
// the same outcome after the same work (one bcrypt evaluation), so neither the answer
// nor its timing tells them apart. An error always means a dependency failed; callers
// answer 503 and nothing was granted.
package authn
