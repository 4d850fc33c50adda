package masterkeys

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Fields is what a rotation reads and re-seals (store.SealedFieldStore).
type Fields interface {
	CountSealed(ctx context.Context) ([]store.SealedCount, error)
	SealedNotUnder(ctx context.Context, kind, keyID string, after store.SealedField, limit int) ([]store.SealedField, error)
	Reseal(ctx context.Context, f store.SealedField, sealed []byte, keyID string) (bool, error)
}

// SealAD is the associated data f was sealed with: each kind binds its value to its
// row as the code that seals it does.
func SealAD(f store.SealedField) ([]byte, error) {
	switch f.Kind {
	case store.SealedTOTP:
		return authn.TOTPSealAD(f.Tenant, f.ID), nil
	case store.SealedSigningKey:
		return token.SigningKeySealAD(f.ID), nil
	case store.SealedAuditKey:
		return audit.KeySealAD(f.ID), nil
	case store.SealedDataKey:
		return DataKeySealAD(f.ID), nil
	}
	return nil, fmt.Errorf("unknown kind of sealed value %q", f.Kind)
}

// Failure is a value a rotation could not re-seal: it does not open with any key the
// rotation has (sealed by a key version missing from the key file, or damaged).
type Failure struct {
	Field store.SealedField
	Err   error
}

// Result is what a rotation did.
type Result struct {
	KeyID    string         // the key everything was re-sealed under
	Resealed map[string]int // by kind
	Passes   int
	Failed   []Failure
}

// Total is how many values were re-sealed.
func (r Result) Total() int {
	n := 0
	for _, c := range r.Resealed {
		n += c
	}
	return n
}

// Rotator re-seals every sealed value under the cipher's current key.
type Rotator struct {
	Fields Fields
	Cipher *secret.FieldCipher
	// Batch is how many values are read at a time (default 200); each is re-sealed by
	// its own compare-and-swap update, so a crash loses nothing and a second run
	// resumes where the first stopped.
	Batch int
	// Progress, when set, is told after each batch.
	Progress func(kind string, resealed int)
	// Sleep waits (default: a timer, cancelled with the context); Clock tells the time
	// (default: the real one).
	Sleep func(ctx context.Context, d time.Duration) error
	Clock clock.Clock
}

// maxPasses bounds Run: values keep changing only while instances still seal with an
// older version, which stops once they have read the key file again.
const maxPasses = 10

// Run re-seals in passes until one finds nothing left. settle is how long running
// instances may keep sealing new values under the previous version (until they read
// the key file again): the confirming pass starts no earlier. Values that cannot be
// opened are reported in Failed (and do not make Run loop); Run errs when the store
// does, or when values still change after maxPasses.
func (r *Rotator) Run(ctx context.Context, settle time.Duration) (Result, error) {
	res := Result{KeyID: r.Cipher.Current(), Resealed: map[string]int{}}
	clk := r.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	deadline := clk.Now().Add(settle)
	for res.Passes < maxPasses {
		res.Passes++
		n, failed, err := r.pass(ctx, res.KeyID, res.Resealed)
		if err != nil {
			return res, err
		}
		if n == 0 && !clk.Now().Before(deadline) {
			res.Failed = failed
			return res, nil
		}
		if wait := deadline.Sub(clk.Now()); wait > 0 {
			if err := r.sleep(ctx, wait); err != nil {
				return res, err
			}
		}
	}
	return res, fmt.Errorf("values were still being sealed under older keys after %d passes: is an instance running without access to the key file? Run `gatehouse keys rotate --resume` again", maxPasses)
}

func (r *Rotator) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pass re-seals, once through every kind, what is not under keyID; it returns how
// many values it re-sealed or found changed (either means another pass is due).
func (r *Rotator) pass(ctx context.Context, keyID string, resealed map[string]int) (int, []Failure, error) {
	batch := r.Batch
	if batch <= 0 {
		batch = 200
	}
	busy := 0
	var failed []Failure
	for _, kind := range store.SealedKinds {
		after := store.SealedField{}
		for {
			fields, err := r.Fields.SealedNotUnder(ctx, kind, keyID, after, batch)
			if err != nil {
				return busy, failed, fmt.Errorf("reading sealed %s values: %w", kind, err)
			}
			done := 0
			for _, f := range fields {
				after = f
				ok, err := r.reseal(ctx, f, keyID)
				var open *openError
				switch {
				case errors.As(err, &open):
					failed = append(failed, Failure{Field: f, Err: open.err})
				case err != nil:
					return busy, failed, err
				case ok:
					done++
					busy++
				default: // changed meanwhile: look again next pass
					busy++
				}
			}
			resealed[kind] += done
			if r.Progress != nil && len(fields) > 0 {
				r.Progress(kind, done)
			}
			if len(fields) < batch {
				break
			}
		}
	}
	return busy, failed, nil
}

type openError struct{ err error }

func (e *openError) Error() string { return e.err.Error() }

// reseal opens f and seals it again under the cipher's current key, if that is still
// keyID (a key file read meanwhile may have added a newer one: then the next run
// moves everything there).
func (r *Rotator) reseal(ctx context.Context, f store.SealedField, keyID string) (bool, error) {
	ad, err := SealAD(f)
	if err != nil {
		return false, err
	}
	plain, err := r.Cipher.Open(f.Sealed, f.KeyID, ad)
	if err != nil {
		return false, &openError{err}
	}
	sealed, kid := r.Cipher.Seal(plain, ad)
	clear(plain)
	if kid != keyID {
		return false, fmt.Errorf("a newer master key version appeared during the rotation (%s): run `gatehouse keys rotate --resume`", kid)
	}
	ok, err := r.Fields.Reseal(ctx, f, sealed, kid)
	if err != nil {
		return false, fmt.Errorf("re-sealing %s %s: %w", f.Kind, f.ID, err)
	}
	return ok, nil
}
