package passkey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Ceremony purposes. A ceremony is finished only by the Finish method of its purpose.
const (
	purposeRegister     = "register"
	purposePasswordless = "login"         // discoverable: the assertion names the user
	purposeSecondFactor = "second_factor" // the user is known from the password step
)

// ceremonyState is what a ChallengeStore holds under a ceremony id: go-webauthn's
// session data plus everything it must be bound to.
type ceremonyState struct {
	Tenant  string               `json:"tenant"`
	Purpose string               `json:"purpose"`
	UserID  string               `json:"user_id,omitempty"`
	RP      string               `json:"rp"` // relyingParty.key()
	Expires time.Time            `json:"expires"`
	Session webauthn.SessionData `json:"session"`
}

// start stores the state under a new random ceremony id.
func (s *Service) start(ctx context.Context, st ceremonyState) (string, error) {
	st.Expires = s.clock.Now().Add(CeremonyTTL)
	data, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("encoding ceremony: %w", err)
	}
	id := secret.NewToken()
	if err := s.challenges.Put(ctx, id, data, CeremonyTTL); err != nil {
		return "", fmt.Errorf("storing ceremony: %w", err)
	}
	return id, nil
}

// finish takes the ceremony out of the store (so it is used up whatever happens next)
// and checks that it was begun for this tenant, site, one of the purposes and, unless
// userID is empty, this user.
func (s *Service) finish(ctx context.Context, tenant store.TenantHandle, rp relyingParty, id, userID string, purposes ...string) (ceremonyState, error) {
	var st ceremonyState
	if id == "" {
		return st, fmt.Errorf("%w: no ceremony id", ErrCeremony)
	}
	data, err := s.challenges.Take(ctx, id)
	if errors.Is(err, ErrChallengeNotFound) {
		return st, fmt.Errorf("%w: unknown, expired or used", ErrCeremony)
	}
	if err != nil {
		return st, fmt.Errorf("taking ceremony: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("%w: decoding state: %w", ErrCeremony, err)
	}
	switch {
	case !s.clock.Now().Before(st.Expires):
		return st, fmt.Errorf("%w: expired", ErrCeremony)
	case st.Tenant != tenant.TenantID():
		return st, fmt.Errorf("%w: begun for another tenant", ErrCeremony)
	case st.RP != rp.key():
		return st, fmt.Errorf("%w: begun for another site", ErrCeremony)
	case !slices.Contains(purposes, st.Purpose):
		return st, fmt.Errorf("%w: a %s ceremony", ErrCeremony, st.Purpose)
	case userID != "" && st.UserID != userID:
		return st, fmt.Errorf("%w: begun for another user", ErrCeremony)
	}
	return st, nil
}
