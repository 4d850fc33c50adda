package sqlstore

import (
	"context"
	"database/sql"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// signingKeyStore is the deployment's token-signing keys. Like the tenant registry it
// binds no tenant id: every tenant and every instance signs and verifies with them.
type signingKeyStore struct{ s *Store }

// SigningKeys returns the token-signing keys.
func (s *Store) SigningKeys() store.SigningKeyStore { return signingKeyStore{s} }

const signingKeyColumns = `kid, algorithm, public_key, private_key, seal_key_id, created_at, activates_at`

// ListSigningKeys returns every key by activation time, then kid. A zero activation
// time (NULL) sorts first on both backends, as the zero time.Time is the earliest
// (they disagree on where NULL sorts, hence the first sort key); kid is compared
// byte-wise by both ({{keytext}}).
func (ks signingKeyStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := ks.s.db.QueryContext(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys
		ORDER BY activates_at IS NOT NULL, activates_at, kid`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		var k store.SigningKey
		var created, activates sql.NullInt64
		if err := rows.Scan(&k.KID, &k.Algorithm, &k.PublicKey, &k.PrivateKey, &k.SealKeyID, &created, &activates); err != nil {
			return nil, mapErr(err)
		}
		k.CreatedAt, k.ActivatesAt = timeOf(created), timeOf(activates)
		out = append(out, k)
	}
	return out, mapErr(rows.Err())
}

// CreateSigningKey inserts k; a kid that exists is ErrConflict (the primary key, so
// also when instances create keys at the same moment). Empty kids and keys are
// refused by the table's CHECK constraints.
func (ks signingKeyStore) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	_, err := ks.s.exec(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.KID, k.Algorithm, k.PublicKey, k.PrivateKey, k.SealKeyID, timeArg(k.CreatedAt), timeArg(k.ActivatesAt))
	return mapErr(err)
}

// Interface guards
var _ store.SigningKeyStore = signingKeyStore{}
