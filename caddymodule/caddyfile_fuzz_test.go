package caddymodule

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

// caddyfileError is how a Caddyfile error names its place: "..., at Caddyfile:12".
var caddyfileError = regexp.MustCompile(`(?s)^.+, at Caddyfile:(\d+)$`)

// FuzzCaddyfile feeds any block to the gatehouse global option and to the gatehouse
// handler directive, as the Caddyfile adapter hands them over (tokens of
// "gatehouse {\n<block>\n}"). Neither panics; every refusal names a line of the
// input, so that an operator can find the mistake; and what either accepts survives
// the JSON it is adapted to (Caddy loads the app and the handler from that JSON): read
// back, it is the same configuration.
func FuzzCaddyfile(f *testing.F) {
	for _, s := range []string{
		"store sqlite://data/gatehouse.db\nbase_url http://localhost:8080",
		"policy_file policies/crm.yaml\nremote_headers",
		"rule /health public audit=off\nrule /api/patients/* patients:read audit=get,REPORT\nrule /api/* signed_in audit=on",
		"rule /api/users/{user}/deals deals:read GET scope=own owner_param=user mfa\ndefault_policy deny",
		"audit_spool /var/lib/gatehouse/audit.spool\naudit_spool_max 64MiB\naudit_retention 400d",
		"smtp {\n\thost smtp.example.com\n\tport 587\n\ttls starttls\n}\nrate_limit login 10/1m",
		"tenant acme\nportal /auth\nhome_url /app\nassertion off\nstrip_header X-Api-User\nkeep_header X-Original-URL",
		"limit /api/* 60/1m 600/1h\ntoken_audience https://api.example\nforward_authorization\ntenant_by_host",
		"signin_cpu_share 0.15\nlockout_max 24h\nmail_retention 48h\npasskey_origins https://a.example https://b.example",
		"rule\nrule /x\nrule /x bogus\nsmtp {\n}\n}\n{",
		"\"quoted arg\" `backticks` {\n\tnested {\n\t}\n}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, block string) {
		input := "gatehouse {\n" + block + "\n}"
		tokens, err := caddyfile.Tokenize([]byte(input), "Caddyfile")
		if err != nil || len(tokens) == 0 {
			return // the lexer's refusal (an unterminated quote, say) is Caddy's
		}
		lines := strings.Count(input, "\n") + 1
		named := func(what string, err error) {
			m := caddyfileError.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("%s: the error names no line: %v\ninput:\n%s", what, err, input)
			}
			if n, _ := strconv.Atoi(m[1]); n < 1 || n > lines {
				t.Fatalf("%s: the error names line %d of %d: %v", what, n, lines, err)
			}
		}

		v, err := parseGlobalOption(caddyfile.NewDispenser(tokens), nil)
		if err != nil {
			named("global option", err)
		} else {
			raw := v.(httpcaddyfile.App).Value
			var app App
			if err := json.Unmarshal(raw, &app); err != nil {
				t.Fatalf("the app's JSON does not load: %v\n%s", err, raw)
			}
			if again, _ := json.Marshal(&app); !bytes.Equal(again, raw) {
				t.Fatalf("the app's JSON changes when loaded:\n%s\n%s", raw, again)
			}
		}

		h, err := parseHandlerDirective(httpcaddyfile.Helper{Dispenser: caddyfile.NewDispenser(tokens)})
		if err != nil {
			named("handler", err)
			return
		}
		raw, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		back := new(Handler)
		if err := json.Unmarshal(raw, back); err != nil {
			t.Fatalf("the handler's JSON does not load: %v\n%s", err, raw)
		}
		if !reflect.DeepEqual(back, h) {
			t.Fatalf("the handler's JSON loads differently:\n%+v\n%+v\n%s", h, back, raw)
		}
	})
}
