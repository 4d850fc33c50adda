package caddymodule

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the golden adapt files from the current output")

const goldenSep = "\n----------\n"

// TestAdaptGolden adapts every testdata/adapt/*.caddyfiletest and compares with the
// golden JSON after the separator, or with the expected error ("error: <substring>").
func TestAdaptGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/adapt/*.caddyfiletest")
	if len(files) < 8 {
		t.Fatalf("expected golden files, found %d", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(raw), goldenSep)
			if !ok {
				t.Fatalf("no separator in %s", file)
			}
			out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), map[string]any{"filename": "Caddyfile"})
			want = strings.TrimSpace(want)
			var got string
			if err != nil {
				got = "error: " + err.Error()
			} else {
				var buf bytes.Buffer
				if err := json.Indent(&buf, out, "", "\t"); err != nil {
					t.Fatal(err)
				}
				got = buf.String()
			}
			if *update {
				if err := os.WriteFile(file, []byte(input+goldenSep+got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if strings.HasPrefix(want, "error: ") {
				if err == nil || !strings.Contains(got, strings.TrimPrefix(want, "error: ")) {
					t.Fatalf("want error containing %q, got:\n%s", strings.TrimPrefix(want, "error: "), got)
				}
				return
			}
			if got != want {
				t.Fatalf("adapted JSON differs.\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
