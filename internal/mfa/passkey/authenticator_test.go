package passkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// softAuthenticator is a software WebAuthn authenticator for tests: one ES256
// credential, "none" attestation, a signature counter, and knobs to produce every
// kind of bad response.
type softAuthenticator struct {
	key        *ecdsa.PrivateKey
	credID     []byte
	aaguid     []byte
	userHandle []byte // learnt at registration
	counting   bool   // false: always reports 0, like many passkey providers
	count      uint32
	flags      protocol.AuthenticatorFlags // BE/BS bits added to every response
}

func newSoftAuthenticator(t *testing.T, counting bool) *softAuthenticator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a := &softAuthenticator{key: key, credID: make([]byte, 32), aaguid: make([]byte, 16), counting: counting}
	_, _ = rand.Read(a.credID)
	_, _ = rand.Read(a.aaguid)
	return a
}

// params describe one response; the defaults are a correct one.
type params struct {
	typ        string // clientData type
	challenge  string // clientData challenge (base64url)
	origin     string // clientData origin
	rpID       string // hashed into authenticatorData
	flags      protocol.AuthenticatorFlags
	count      uint32
	userHandle []byte
	credID     []byte // the id sent (assertion)
	badSig     bool   // corrupt the signature
}

var b64 = base64.RawURLEncoding

func (a *softAuthenticator) nextCount() uint32 {
	if a.counting {
		a.count++
	}
	return a.count
}

func (a *softAuthenticator) coseKey(t *testing.T) []byte {
	t.Helper()
	point, err := a.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	key, err := webauthncbor.Marshal(map[int]any{
		1:  2,  // kty: EC2
		3:  -7, // alg: ES256
		-1: 1,  // crv: P-256
		-2: point[1:33],
		-3: point[33:65],
	})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func authData(rpID string, flags protocol.AuthenticatorFlags, count uint32) []byte {
	h := sha256.Sum256([]byte(rpID))
	d := append(h[:], byte(flags))
	return binary.BigEndian.AppendUint32(d, count)
}

func clientData(t *testing.T, p params) []byte {
	t.Helper()
	cd, err := json.Marshal(map[string]any{
		"type":        p.typ,
		"challenge":   p.challenge,
		"origin":      p.origin,
		"crossOrigin": false,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cd
}

// create answers navigator.credentials.create for the options (WebAuthn JSON) as seen
// from origin; mod adjusts the response. It returns PublicKeyCredential.toJSON().
func (a *softAuthenticator) create(t *testing.T, options []byte, origin string, mod func(*params)) []byte {
	t.Helper()
	var o struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	handle, err := b64.DecodeString(o.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	a.userHandle = handle
	p := params{
		typ: "webauthn.create", challenge: o.Challenge, origin: origin, rpID: o.RP.ID,
		flags: protocol.FlagUserPresent | protocol.FlagUserVerified | protocol.FlagAttestedCredentialData | a.flags,
		count: a.count,
	}
	if mod != nil {
		mod(&p)
	}
	ad := authData(p.rpID, p.flags, p.count)
	ad = append(ad, a.aaguid...)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(a.credID)))
	ad = append(ad, a.credID...)
	ad = append(ad, a.coseKey(t)...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(map[string]any{
		"id":    b64.EncodeToString(a.credID),
		"rawId": b64.EncodeToString(a.credID),
		"type":  "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData(t, p)),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"internal", "hybrid"},
		},
		"clientExtensionResults":  map[string]any{},
		"authenticatorAttachment": "platform",
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// get answers navigator.credentials.get for the options as seen from origin.
func (a *softAuthenticator) get(t *testing.T, options []byte, origin string, mod func(*params)) []byte {
	t.Helper()
	var o struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	p := params{
		typ: "webauthn.get", challenge: o.Challenge, origin: origin, rpID: o.RPID,
		flags: protocol.FlagUserPresent | protocol.FlagUserVerified | a.flags,
		count: a.nextCount(), userHandle: a.userHandle, credID: a.credID,
	}
	if mod != nil {
		mod(&p)
	}
	ad := authData(p.rpID, p.flags, p.count)
	cd := clientData(t, p)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte(nil), ad...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if p.badSig {
		sig[len(sig)-1] ^= 0x01
	}
	resp := map[string]any{
		"clientDataJSON":    b64.EncodeToString(cd),
		"authenticatorData": b64.EncodeToString(ad),
		"signature":         b64.EncodeToString(sig),
	}
	if p.userHandle != nil {
		resp["userHandle"] = b64.EncodeToString(p.userHandle)
	}
	out, err := json.Marshal(map[string]any{
		"id":                     b64.EncodeToString(p.credID),
		"rawId":                  b64.EncodeToString(p.credID),
		"type":                   "public-key",
		"response":               resp,
		"clientExtensionResults": map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
