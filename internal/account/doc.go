// Package account holds the signed-in user's use cases on their own account: second
// factors (authenticator app, recovery codes, passkeys), password, sessions, privacy
// choices and data-subject requests (privacy.go, datadownload.go; the e-mail change
// confirmed from the new address has its own type, EmailChanges). Each use case
// checks what it needs (the current password for sensitive changes), changes the
// store and writes its audit record before it returns. The portal and any other front
// end only translate.
package account
