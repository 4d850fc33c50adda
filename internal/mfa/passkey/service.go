package passkey

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

// CeremonyTTL is how long a begun ceremony can be finished. Browsers are told the same
// timeout.
const CeremonyTTL = 5 * time.Minute

// DefaultRPDisplayName is the relying party name shown by authenticators when
// Config.RPDisplayName is empty.
const DefaultRPDisplayName = "Gatehouse"

// maxRelyingParties bounds the per-site cache of relying party configurations. Sites
// come from tenant host names, so the bound is only reached by a misconfiguration; past
// it, configurations are built per request and not kept.
const maxRelyingParties = 1024

// Config configures a Service.
type Config struct {
	// RPDisplayName is the relying party name authenticators show. Default
	// DefaultRPDisplayName.
	RPDisplayName string
	// RPID fixes the relying party id (a registrable domain such as "example.com" that
	// every site is a subdomain of). Default: each site's host name.
	RPID string
	// Origins fixes the allowed origins ("https://auth.example.com"). Default: each
	// site's own origin, scheme://host[:port].
	Origins []string
	// Challenges keeps ceremony state. Required.
	Challenges ChallengeStore
	// Clock is the time source. Default the wall clock.
	Clock clock.Clock
}

// Site is where the browser is: the request's host (with port, if any) and whether it
// was reached over HTTPS. It must come from the request the gateway has already
// resolved to the tenant, not from client-supplied forwarding headers.
type Site struct {
	Host  string
	HTTPS bool
}

// Service runs WebAuthn ceremonies. It is safe for concurrent use.
type Service struct {
	displayName string
	rpID        string
	origins     []string
	challenges  ChallengeStore
	clock       clock.Clock

	mu  sync.Mutex
	rps map[string]*webauthn.WebAuthn // by relying party key
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Challenges == nil {
		errs = append(errs, errors.New("passkey: a challenge store is required"))
	}
	rpID := strings.ToLower(strings.TrimSpace(cfg.RPID))
	if rpID != "" {
		if err := protocol.ValidateRPID(rpID); err != nil {
			errs = append(errs, fmt.Errorf("passkey: RP ID %q: %w", cfg.RPID, err))
		}
	}
	origins := make([]string, 0, len(cfg.Origins))
	for _, o := range cfg.Origins {
		norm, host, err := parseOrigin(o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if rpID != "" && !withinRPID(host, rpID) {
			errs = append(errs, fmt.Errorf("passkey: origin %q is not within RP ID %q", o, rpID))
		}
		origins = append(origins, norm)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Service{
		displayName: strings.TrimSpace(cfg.RPDisplayName),
		rpID:        rpID,
		origins:     origins,
		challenges:  cfg.Challenges,
		clock:       cfg.Clock,
		rps:         make(map[string]*webauthn.WebAuthn),
	}
	if s.displayName == "" {
		s.displayName = DefaultRPDisplayName
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	return s, nil
}

// relyingParty is the go-webauthn configuration for one site.
type relyingParty struct {
	wa      *webauthn.WebAuthn
	id      string
	origins []string
}

// key identifies the relying party in ceremony state and in the cache.
func (rp relyingParty) key() string { return rp.id + " " + strings.Join(rp.origins, " ") }

// relyingParty returns the (cached) configuration for site.
func (s *Service) relyingParty(site Site) (relyingParty, error) {
	rp := relyingParty{id: s.rpID, origins: s.origins}
	if rp.id == "" || len(rp.origins) == 0 {
		scheme := "http"
		if site.HTTPS {
			scheme = "https"
		}
		origin, host, err := parseOrigin(scheme + "://" + site.Host)
		if err != nil {
			return relyingParty{}, fmt.Errorf("deriving relying party: %w", err)
		}
		if rp.id == "" {
			rp.id = host
		} else if !withinRPID(host, rp.id) {
			return relyingParty{}, fmt.Errorf("deriving relying party: site %q is not within RP ID %q", site.Host, rp.id)
		}
		if len(rp.origins) == 0 {
			rp.origins = []string{origin}
		}
	}
	key := rp.key()

	s.mu.Lock()
	defer s.mu.Unlock()
	if wa, ok := s.rps[key]; ok {
		rp.wa = wa
		return rp, nil
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          rp.id,
		RPDisplayName: s.displayName,
		RPOrigins:     rp.origins,
		// No attestation: Gatehouse does not restrict authenticator models, so it does
		// not ask browsers for identifying attestation statements.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			RequireResidentKey: protocol.ResidentKeyRequired(),
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		},
		// Expiry is enforced by the challenge store with the injected clock; these only
		// tell the browser how long to wait.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
		},
	})
	if err != nil {
		return relyingParty{}, fmt.Errorf("configuring relying party %q: %w", rp.id, err)
	}
	if len(s.rps) < maxRelyingParties {
		s.rps[key] = wa
	}
	rp.wa = wa
	return rp, nil
}

// parseOrigin checks that o is a bare http(s) origin and returns it in the form
// browsers serialise it (lowercase, default port omitted) with its host name.
func parseOrigin(o string) (origin, hostname string, err error) {
	u, err := url.Parse(o)
	if err != nil {
		return "", "", fmt.Errorf("passkey: origin %q: %w", o, err)
	}
	scheme := strings.ToLower(u.Scheme)
	hostname = strings.ToLower(u.Hostname())
	switch {
	case scheme != "http" && scheme != "https":
		return "", "", fmt.Errorf("passkey: origin %q: scheme must be http or https", o)
	case hostname == "" || u.User != nil || u.Opaque != "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || strings.ContainsAny(u.Host, " \\"):
		return "", "", fmt.Errorf("passkey: origin %q: must be scheme://host[:port]", o)
	}
	host := strings.ToLower(u.Host)
	switch port := u.Port(); {
	case port == "" && strings.HasSuffix(host, ":"):
		return "", "", fmt.Errorf("passkey: origin %q: empty port", o)
	case scheme == "https" && port == "443", scheme == "http" && port == "80":
		host = strings.TrimSuffix(host, ":"+port)
	}
	return scheme + "://" + host, hostname, nil
}

// withinRPID tells whether host may use rpID: it is rpID or a subdomain of it.
func withinRPID(host, rpID string) bool {
	return host == rpID || strings.HasSuffix(host, "."+rpID)
}
