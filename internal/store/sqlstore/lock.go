package sqlstore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// A SQLite store is "in use" while some process has it open: Open holds a shared
// flock(2) on <file>.lock for as long as the store stays open, and Restore takes it
// exclusively before it swaps the database file. The kernel drops the lock when the
// process ends, however it ends, so a crashed gateway never leaves a stale lock (as a
// PID file or a lease row would), and every process that opened the store is seen,
// the gateway and the other gatehouse commands alike. The lock lives in a file of its
// own, not on the database: SQLite's own POSIX locks on the database file must not
// meet it (on some systems flock and fcntl locks are one and the same).

// ErrStoreInUse: Restore found the store open in another process (a running gateway
// or a gatehouse command).
var ErrStoreInUse = errors.New("the store is in use: a gateway or another gatehouse command has it open")

// ErrRestoring: Open found a restore replacing the SQLite file.
var ErrRestoring = errors.New("a restore is replacing the store")

// lockPath is the in-use lock file of the SQLite database file.
func lockPath(file string) string { return file + ".lock" }

// holdInUse takes the shared in-use lock of file for an opening store.
func holdInUse(file string) (*os.File, error) {
	f, err := os.OpenFile(lockPath(file), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: opening the store's lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("sqlstore: %w (%s); start again when it has finished", ErrRestoring, file)
		}
		return nil, fmt.Errorf("sqlstore: locking %s: %w", lockPath(file), err)
	}
	return f, nil
}

// takeExclusive takes the in-use lock of file exclusively (for Restore), failing at
// once with ErrStoreInUse when any process holds it.
func takeExclusive(file string) (*os.File, error) {
	f, err := os.OpenFile(lockPath(file), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the store's lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s): stop it first", ErrStoreInUse, file)
		}
		return nil, fmt.Errorf("locking %s: %w", lockPath(file), err)
	}
	return f, nil
}
