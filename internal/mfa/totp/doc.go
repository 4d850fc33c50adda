// Package totp implements RFC 6238 time-based one-time passwords (SHA-1, 6 digits,
// 30-second steps — what Google Authenticator, 1Password, Authy and oathtool use) on
// pquerna/otp: key generation with an otpauth:// URL and QR code, and verification that
// accepts ±1 step and reports which step matched, so that the caller can spend each
// step once (store.TOTPStore.UseTOTPStep).
package totp
