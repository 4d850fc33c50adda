package audit

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Spool is a local, append-only file of audit records that could not reach the store
// yet (it was unreachable, or the commit queue was full). Every append is fsynced
// before it returns: once Append has returned, a crash (kill -9, power loss) does not
// lose the records. The records are replayed into the store in the order they were
// spooled; a second file (path + ".pos") keeps, fsynced, how far the replay got.
//
// Each line is "<crc32c in hex> <JSON>\n". A line cut short by a crash during its
// own append (never acknowledged) is dropped when the spool is opened again.
//
// The spool holds an exclusive lock on its file: two processes must not share one.
type Spool struct {
	path string
	max  int64

	mu   sync.Mutex
	f    *os.File
	size int64 // bytes in the file
	pos  int64 // bytes already replayed
	n    int64 // records not yet replayed
}

// SpoolEntry is one spooled record with where the next one starts (for Advance).
type SpoolEntry struct {
	Record store.AuditRecord
	End    int64
}

// spoolLine is a record as the spool keeps it (stable names: spools outlive builds).
type spoolLine struct {
	Tenant    string            `json:"tenant"`
	Time      time.Time         `json:"time"`
	ActorID   string            `json:"actor_id,omitempty"`
	Email     string            `json:"actor_email,omitempty"`
	Action    string            `json:"action"`
	Target    string            `json:"target,omitempty"`
	Outcome   string            `json:"outcome"`
	IP        string            `json:"ip,omitempty"`
	UserAgent string            `json:"user_agent,omitempty"`
	SessionID string            `json:"session_id,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrSpoolLocked: another process has the spool open.
var ErrSpoolLocked = errors.New("audit spool is in use by another process")

// OpenSpool opens (creating it and its directory) the spool at path, capped at max
// bytes (0: no cap). It drops a torn last line and counts the records still to
// replay.
func OpenSpool(path string, max int64) (*Spool, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the audit spool directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the audit spool: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s (give each instance an audit_spool of its own)", ErrSpoolLocked, path)
	}
	s := &Spool{path: path, max: max, f: f}
	if err := s.recover(); err != nil {
		_ = f.Close()
		return nil, err
	}
	return s, nil
}

// recover reads the replay position, checks every line after it and truncates a torn
// tail.
func (s *Spool) recover() error {
	if b, err := os.ReadFile(s.path + ".pos"); err == nil {
		if s.pos, err = strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64); err != nil || s.pos < 0 {
			return fmt.Errorf("reading the audit spool position %s: %q is not an offset", s.path+".pos", b)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading the audit spool position: %w", err)
	}
	st, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("reading the audit spool: %w", err)
	}
	if s.pos > 0 && st.Size() == 0 {
		// A crash between emptying the file and removing the position: the reset
		// had finished all but its last step.
		s.pos = 0
		return s.resetLocked()
	}
	if s.pos > st.Size() {
		return fmt.Errorf("audit spool %s: the replay position %d is past its end (%d bytes): was the file replaced?", s.path, s.pos, st.Size())
	}
	good, n, err := scanSpool(s.f, s.pos, -1, nil)
	if err != nil {
		return err
	}
	if good < st.Size() {
		// A line without its end, or one whose checksum fails: the append that wrote
		// it did not return, so nobody was told it was kept.
		if err := s.f.Truncate(good); err != nil {
			return fmt.Errorf("dropping the torn end of the audit spool: %w", err)
		}
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("syncing the audit spool: %w", err)
		}
	}
	s.size, s.n = good, n
	if s.n == 0 && s.size > 0 {
		return s.resetLocked()
	}
	return nil
}

// scanSpool reads lines from offset from, at most limit (-1: all), handing each to
// fn (may be nil). It returns the offset after the last good line and how many good
// lines it read. It stops at the first torn or corrupt line.
func scanSpool(f *os.File, from int64, limit int, fn func(SpoolEntry)) (int64, int64, error) {
	r := bufio.NewReader(io.NewSectionReader(f, from, 1<<62))
	off, n := from, int64(0)
	for limit < 0 || n < int64(limit) {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return off, n, nil // a partial last line is torn
		}
		if err != nil {
			return off, n, fmt.Errorf("reading the audit spool: %w", err)
		}
		rec, ok := decodeSpoolLine(line)
		if !ok {
			return off, n, nil
		}
		off += int64(len(line))
		n++
		if fn != nil {
			fn(SpoolEntry{Record: rec, End: off})
		}
	}
	return off, n, nil
}

func decodeSpoolLine(line []byte) (store.AuditRecord, bool) {
	if len(line) < 10 || line[8] != ' ' {
		return store.AuditRecord{}, false
	}
	var sum [4]byte
	if _, err := hex.Decode(sum[:], line[:8]); err != nil {
		return store.AuditRecord{}, false
	}
	body := line[9 : len(line)-1]
	if crc32.Checksum(body, castagnoli) != uint32(sum[0])<<24|uint32(sum[1])<<16|uint32(sum[2])<<8|uint32(sum[3]) {
		return store.AuditRecord{}, false
	}
	var l spoolLine
	if err := json.Unmarshal(body, &l); err != nil {
		return store.AuditRecord{}, false
	}
	return store.AuditRecord{TenantID: l.Tenant, Time: l.Time, ActorID: l.ActorID, ActorEmail: l.Email,
		Action: l.Action, Target: l.Target, Outcome: l.Outcome, IP: l.IP, UserAgent: l.UserAgent,
		SessionID: l.SessionID, RequestID: l.RequestID, Details: l.Details}, true
}

func encodeSpoolLine(r store.AuditRecord) ([]byte, error) {
	body, err := json.Marshal(spoolLine{Tenant: r.TenantID, Time: r.Time, ActorID: r.ActorID, Email: r.ActorEmail,
		Action: r.Action, Target: r.Target, Outcome: r.Outcome, IP: r.IP, UserAgent: r.UserAgent,
		SessionID: r.SessionID, RequestID: r.RequestID, Details: r.Details})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 9, 10+len(body))
	sum := crc32.Checksum(body, castagnoli)
	hex.Encode(out, []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	out[8] = ' '
	out = append(out, body...)
	return append(out, '\n'), nil
}

// Append writes rs at the end of the spool and fsyncs it. It refuses nothing for
// size: the cap is for admission (Full), so that records of requests already under
// way are never dropped; only a failing disk makes it fail.
func (s *Spool) Append(rs []store.AuditRecord) error {
	if len(rs) == 0 {
		return nil
	}
	var buf []byte
	for _, r := range rs {
		line, err := encodeSpoolLine(r)
		if err != nil {
			return fmt.Errorf("encoding an audit record for the spool: %w", err)
		}
		buf = append(buf, line...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.WriteAt(buf, s.size); err != nil {
		_ = s.f.Truncate(s.size) // leave no half line behind
		return fmt.Errorf("writing the audit spool: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("syncing the audit spool: %w", err)
	}
	s.size += int64(len(buf))
	s.n += int64(len(rs))
	return nil
}

// Pending returns how many records wait for replay and the spool's size in bytes.
func (s *Spool) Pending() (records, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, s.size
}

// Full reports whether the spool reached its cap.
func (s *Spool) Full() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max > 0 && s.size >= s.max
}

// Max is the cap in bytes (0: none).
func (s *Spool) Max() int64 { return s.max }

// Next returns up to limit records from the replay position, oldest first.
func (s *Spool) Next(limit int) ([]SpoolEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SpoolEntry
	_, _, err := scanSpool(s.f, s.pos, limit, func(e SpoolEntry) { out = append(out, e) })
	return out, err
}

// Advance records that every record before end (an End from Next) is in the store.
// When nothing is left the spool is emptied.
func (s *Spool) Advance(end int64, records int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if end <= s.pos || end > s.size {
		return fmt.Errorf("audit spool: advancing to %d outside %d..%d", end, s.pos, s.size)
	}
	s.pos = end
	s.n -= int64(records)
	if s.pos == s.size {
		return s.resetLocked()
	}
	return writeFileSync(s.path+".pos", []byte(strconv.FormatInt(s.pos, 10)+"\n"))
}

// resetLocked empties the spool: the file first, then the position (a crash in
// between leaves a position past the end of an empty file, which OpenSpool takes as
// the reset it was; the other order would replay every record again).
func (s *Spool) resetLocked() error {
	if err := s.f.Truncate(0); err != nil {
		return fmt.Errorf("emptying the audit spool: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("syncing the audit spool: %w", err)
	}
	if err := os.Remove(s.path + ".pos"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the audit spool position: %w", err)
	}
	s.pos, s.size, s.n = 0, 0, 0
	return nil
}

// Close releases the file and its lock.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}

// writeFileSync replaces name with data durably (temporary file, fsync, rename, fsync
// of the directory).
func writeFileSync(name string, data []byte) error {
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if d, err := os.Open(filepath.Dir(name)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
