// Package exportcrypt reads and writes Gatehouse's password-protected export format:
// a stream of AES-256-GCM chunks under a key derived from a password with
// PBKDF2-HMAC-SHA256 (SPEC §10, README "Password-protected exports").
//
// The format is chunked so that files of any size are written and read with flat
// memory, and every chunk is authenticated together with the header, its position
// and whether it is the last one: a reader refuses a file that was altered,
// truncated (even at a chunk boundary), extended, or whose chunks were reordered,
// dropped or taken from another file. The README documents it byte by byte, so that
// a decrypter can be written in any language from it alone (the tests do so in
// Python).
//
// A Reader hands out plaintext before it has seen the end of the file: a consumer
// must not act on what it read until Read returned io.EOF (the CLI writes to a
// temporary file and renames it only then).
package exportcrypt
