package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func spoolRecord(i int) store.AuditRecord {
	return store.AuditRecord{TenantID: "tn-1", Time: time.Unix(1700000000, int64(i)).UTC(), ActorID: "us-1",
		ActorEmail: "zoë@example.test", Action: ActionProxyRequest, Target: "/api/deals", Outcome: Success,
		IP: "198.51.100.7", UserAgent: "curl/8", SessionID: "se-1", RequestID: fmt.Sprintf("req-%d", i),
		Details: map[string]string{"method": "POST", "status": "201", "note": "line\nbreak \"quoted\""}}
}

func openSpool(t *testing.T, path string, max int64) *Spool {
	t.Helper()
	s, err := OpenSpool(path, max)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func spoolIDs(t *testing.T, s *Spool) []string {
	t.Helper()
	es, err := s.Next(1000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range es {
		ids = append(ids, e.Record.RequestID)
	}
	return ids
}

// TestSpoolSurvivesReopen: what Append returned for is there after the process is
// gone (the file is reopened), in order and unchanged, and the replay position too.
func TestSpoolSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool", "audit.spool")
	s := openSpool(t, path, 0)
	if err := s.Append([]store.AuditRecord{spoolRecord(1), spoolRecord(2)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append([]store.AuditRecord{spoolRecord(3)}); err != nil {
		t.Fatal(err)
	}
	es, err := s.Next(2)
	if err != nil || len(es) != 2 {
		t.Fatalf("Next(2) = %d entries, %v", len(es), err)
	}
	if got, want := es[0].Record, spoolRecord(1); got.ActorEmail != want.ActorEmail || got.Details["note"] != want.Details["note"] || !got.Time.Equal(want.Time) {
		t.Fatalf("record read back as %+v, want %+v", got, want)
	}
	if err := s.Advance(es[0].End, 1); err != nil { // record 1 reached the store
		t.Fatal(err)
	}
	s.Close()

	s = openSpool(t, path, 0)
	if got := fmt.Sprint(spoolIDs(t, s)); got != "[req-2 req-3]" {
		t.Fatalf("after reopening, the spool replays %s, want [req-2 req-3]", got)
	}
	if n, _ := s.Pending(); n != 2 {
		t.Fatalf("Pending = %d, want 2", n)
	}
	es, _ = s.Next(10)
	if err := s.Advance(es[1].End, 2); err != nil {
		t.Fatal(err)
	}
	if n, size := s.Pending(); n != 0 || size != 0 {
		t.Fatalf("after replaying everything: %d records, %d bytes; want an empty spool", n, size)
	}
	if _, err := os.Stat(path + ".pos"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the position file is left behind: %v", err)
	}
}

// TestSpoolDropsTornTail: a line cut short by a crash during its append (never
// acknowledged) and a line whose checksum fails are dropped; what came before stays.
func TestSpoolDropsTornTail(t *testing.T) {
	for name, tail := range map[string]string{
		"cut short":    `0badc0de {"tenant":"tn-1","act`,
		"bad checksum": "00000000 {\"tenant\":\"tn-1\",\"action\":\"x\"}\n",
		"not hex":      "zzzzzzzz {}\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.spool")
			s := openSpool(t, path, 0)
			if err := s.Append([]store.AuditRecord{spoolRecord(1)}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString(tail)
			f.Close()
			s = openSpool(t, path, 0)
			if got := fmt.Sprint(spoolIDs(t, s)); got != "[req-1]" {
				t.Fatalf("spool replays %s, want [req-1]", got)
			}
			if err := s.Append([]store.AuditRecord{spoolRecord(2)}); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(spoolIDs(t, s)); got != "[req-1 req-2]" {
				t.Fatalf("after an append the spool replays %s, want [req-1 req-2]", got)
			}
		})
	}
}

// TestSpoolExclusive: a second process (here: a second open) cannot use a spool in use.
func TestSpoolExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.spool")
	openSpool(t, path, 0)
	if _, err := OpenSpool(path, 0); !errors.Is(err, ErrSpoolLocked) {
		t.Fatalf("second OpenSpool = %v, want ErrSpoolLocked", err)
	}
}

// TestSpoolCap: Full turns on at the cap; appends past it still succeed (records of
// requests already under way are never dropped).
func TestSpoolCap(t *testing.T) {
	line, _ := encodeSpoolLine(spoolRecord(1))
	s := openSpool(t, filepath.Join(t.TempDir(), "audit.spool"), int64(2*len(line)))
	for i := range 2 {
		if s.Full() {
			t.Fatalf("full after %d records", i)
		}
		if err := s.Append([]store.AuditRecord{spoolRecord(1)}); err != nil {
			t.Fatal(err)
		}
	}
	if !s.Full() {
		t.Fatal("not full at the cap")
	}
	if err := s.Append([]store.AuditRecord{spoolRecord(3)}); err != nil {
		t.Fatalf("append past the cap: %v", err)
	}
}

// TestSpoolInterruptedReset: a crash after the file was emptied and before the
// position was removed leaves a position past the end of an empty file; opening
// finishes the reset rather than failing or replaying.
func TestSpoolInterruptedReset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.spool")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".pos", []byte("4242\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openSpool(t, path, 0)
	if n, size := s.Pending(); n != 0 || size != 0 {
		t.Fatalf("Pending = %d, %d", n, size)
	}
	// A position past the end of a non-empty file is a different story: refuse.
	s.Close()
	os.WriteFile(path, []byte("x"), 0o600)
	os.WriteFile(path+".pos", []byte("4242\n"), 0o600)
	if _, err := OpenSpool(path, 0); err == nil {
		t.Fatal("a position past the end of a non-empty spool was accepted")
	}
}
