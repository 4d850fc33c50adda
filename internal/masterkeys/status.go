package masterkeys

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// KeyStatus is one master key version and what is sealed under it.
type KeyStatus struct {
	Version int
	KeyID   string
	Current bool             // seals new values
	Sealed  map[string]int64 // by kind
}

// Total is how many values the version seals.
func (k KeyStatus) Total() int64 {
	var n int64
	for _, c := range k.Sealed {
		n += c
	}
	return n
}

// State is "current" (seals new values), "in use" (still seals values) or "unused".
func (k KeyStatus) State() string {
	switch {
	case k.Current:
		return "current"
	case k.Total() == 0:
		return "unused"
	}
	return "in use"
}

// Status is what is sealed under which master key version.
type Status struct {
	Keys []KeyStatus // newest first
	// Unknown counts values sealed under key ids none of the versions has: they cannot
	// be opened until the version that sealed them is added back.
	Unknown []store.SealedCount
}

// Report reads the counts for keys (newest first, as secret.ParseMasterKeys gives them).
func Report(ctx context.Context, fields Fields, keys []secret.MasterKey) (Status, error) {
	counts, err := fields.CountSealed(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("counting sealed values: %w", err)
	}
	var st Status
	byID := map[string]int{}
	for i, k := range keys {
		id := k.KeyID()
		byID[id] = i
		st.Keys = append(st.Keys, KeyStatus{Version: k.Version, KeyID: id, Current: i == 0, Sealed: map[string]int64{}})
	}
	for _, c := range counts {
		if i, ok := byID[c.KeyID]; ok {
			st.Keys[i].Sealed[c.Kind] += c.N
		} else {
			st.Unknown = append(st.Unknown, c)
		}
	}
	return st, nil
}

// Unused lists the versions that are not current and seal nothing: the ones a prune
// may remove from the key file.
func (s Status) Unused() []int {
	var out []int
	for _, k := range s.Keys {
		if !k.Current && k.Total() == 0 {
			out = append(out, k.Version)
		}
	}
	return out
}

// Stale is how many values are sealed under a version other than the current one
// (unknown key ids included): zero once a rotation is complete.
func (s Status) Stale() int64 {
	var n int64
	for _, k := range s.Keys {
		if !k.Current {
			n += k.Total()
		}
	}
	for _, c := range s.Unknown {
		n += c.N
	}
	return n
}
