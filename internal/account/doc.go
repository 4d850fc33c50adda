// Package account holds the signed-in user's use cases on their own account: second
// factors (authenticator app, recovery codes, passkeys) and privacy choices — and,
// in later issues, password, sessions and data requests. Each use case checks what it
// needs (the current password for sensitive changes), changes the store and writes its
// audit record before it returns. The portal and any other front end only translate.
package account
