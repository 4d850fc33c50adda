// Package passkey runs WebAuthn ceremonies (registration, passwordless and
// second-factor sign-in) on github.com/go-webauthn/webauthn and keeps the results in a
// tenant's store.PasskeyStore.
//
// A ceremony is two HTTP round trips. Begin returns the options for the browser and an
// opaque ceremony id; the server-side state (the challenge and what it was issued for)
// sits in a ChallengeStore under that id for five minutes. Finish takes the state out
// of the store, once: a ceremony id cannot be replayed, and it is refused when it was
// begun for another tenant, user, purpose or site.
//
// The relying party is derived per request from the site (RP ID = host without port,
// origin = scheme://host[:port]) unless Config fixes the RP ID or the allowed origins,
// so one process can serve every tenant host.
//
// Passkeys are always discoverable (resident key required) and user verification is
// always required, in registration and in both kinds of sign-in: a passkey is a full
// factor on its own ("something you have" plus the authenticator's PIN or biometric).
//
// Wrong assertions are reported as typed errors (ErrVerification, ErrUnknownCredential,
// ErrSignCountRegression, ErrCeremony) that callers map to one generic public message
// and an audit record; ErrSignCountRegression in particular indicates a possibly cloned
// authenticator and must be audited.
package passkey
