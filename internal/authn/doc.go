// Package authn runs the sign-in flows. Wrong credentials are an outcome, not an
// error: PasswordLogin returns ErrInvalidCredentials for an unknown e-mail, a wrong
// password and an account that may not sign in alike, after the same amount of work
// (one bcrypt evaluation), so neither the answer nor its timing tells them apart.
package authn
