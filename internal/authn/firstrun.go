package authn

import (
	"context"
	"errors"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ErrSetupClosed: the setup link was used, has expired, or the workspace has an owner.
var ErrSetupClosed = errors.New("setup link no longer valid")

// SetupForm is what the first owner types on the setup page.
type SetupForm struct {
	Workspace   string // the workspace's name ("" keeps the current one)
	Email, Name string
	Password    string
}

// Setup creates the workspace's first owner with a live setup link, names the
// workspace, audits it and signs the owner in. A wrong entry is an *InputError (the
// link stays usable); a spent, expired or superseded link is ErrSetupClosed.
func (s *SignIn) Setup(ctx context.Context, ws store.Workspace, c Client, token string, f SetupForm) (Outcome, error) {
	// The (slow) password hashing happens only for a live link.
	if open, err := SetupOpen(ctx, ws, token, s.Clock); err != nil || !open {
		if err == nil {
			err = ErrSetupClosed
		}
		return Outcome{}, err
	}
	name := strings.TrimSpace(f.Workspace)
	if len(name) > 100 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Outcome{}, &InputError{Field: "workspace", Msg: "The workspace name is too long or contains control characters."}
	}
	u, err := PrepareUser(NewUser{Email: f.Email, DisplayName: f.Name, Password: f.Password, Roles: []string{identity.RoleOwner}}, s.Hasher, s.Rules, s.Clock)
	if err != nil {
		return Outcome{}, err
	}
	switch err := CompleteSetup(ctx, ws, token, u, s.Clock); {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, ErrSetupDone):
		return Outcome{}, ErrSetupClosed
	case err != nil:
		return Outcome{}, err
	}
	if name != "" && name != ws.Name {
		if err := ws.Settings().RenameTenant(ctx, name); err != nil {
			return Outcome{}, err
		}
		ws.Name = name
		if s.Renamed != nil {
			s.Renamed()
		}
	}
	rec := audit.Event(audit.ActionSetup, audit.Success, audit.Actor{UserID: u.ID, Email: u.Email}, c.Origin)
	rec.Target = audit.UserTarget(u.ID)
	if name != "" {
		rec.Details = map[string]string{"workspace": name}
	}
	if err := s.Audit.Record(ctx, ws, rec); err != nil {
		return Outcome{}, err
	}
	out := Outcome{User: u}
	return out, s.start(ctx, ws, c, u, []string{MethodPassword}, &out)
}
