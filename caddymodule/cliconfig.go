package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// loadConfigQuiet reads and adapts the config a CLI command is pointed at, like
// caddycmd.LoadConfig, but without Caddy's "using config from file" and "adapted config
// to JSON" log lines: those are for a server starting up, and would bury the output of a
// command such as `gatehouse tenant list`. Adapter warnings go to stderr, one short line
// each, because a warning about the file the operator named is worth seeing.
//
// The adapter is chosen as Caddy chooses it: "caddyfile" when asked for, or when no
// adapter is given and the file is named Caddyfile* or *.caddyfile (but not *.json);
// another named adapter when given; otherwise the file must be JSON. configFile "-"
// reads standard input. Unlike caddycmd.LoadConfig there is no fallback to an adjacent
// Caddyfile: a command that changes the store must say which config it means.
func loadConfigQuiet(configFile, adapter string) ([]byte, error) {
	return loadConfigQuietTo(os.Stderr, configFile, adapter)
}

// loadConfigQuietTo is loadConfigQuiet with the warnings written to w.
func loadConfigQuietTo(w io.Writer, configFile, adapter string) ([]byte, error) {
	if configFile == "" {
		return nil, errors.New("no config file given (use --config)")
	}
	var (
		cfg []byte
		err error
	)
	if configFile == "-" {
		cfg, err = io.ReadAll(os.Stdin)
	} else {
		cfg, err = os.ReadFile(configFile)
	}
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", configFile, err)
	}

	if adapter == "" && looksLikeCaddyfile(configFile) {
		adapter = "caddyfile"
	}
	if adapter == "" {
		if err := json.Unmarshal(cfg, new(any)); err != nil {
			return nil, fmt.Errorf("config %s is not valid JSON (%w); name the adapter with --adapter, e.g. --adapter caddyfile", configFile, err)
		}
		return cfg, nil
	}

	a := caddyconfig.GetAdapter(adapter)
	if a == nil {
		return nil, fmt.Errorf("unknown config adapter %q", adapter)
	}
	adapted, warnings, err := a.Adapt(cfg, map[string]any{"filename": configFile})
	if err != nil {
		return nil, fmt.Errorf("adapting config %s with %s: %w", configFile, adapter, err)
	}
	for _, warn := range warnings {
		if strings.Contains(warn.Message, "not formatted") {
			continue // `caddy fmt` advice: noise for a CLI command that only reads the config
		}
		fmt.Fprintln(w, formatAdapterWarning(configFile, warn))
	}
	return adapted, nil
}

// looksLikeCaddyfile is caddycmd's rule for picking the caddyfile adapter by file name.
func looksLikeCaddyfile(configFile string) bool {
	base := strings.ToLower(filepath.Base(configFile))
	if filepath.Ext(base) == ".json" {
		return false
	}
	return strings.HasPrefix(base, "caddyfile") || strings.HasSuffix(base, ".caddyfile")
}

// formatAdapterWarning renders one adapter warning as "warning: file:line: directive: message".
func formatAdapterWarning(configFile string, warn caddyconfig.Warning) string {
	where := warn.File
	if where == "" {
		where = configFile
	}
	if warn.Line > 0 {
		where = fmt.Sprintf("%s:%d", where, warn.Line)
	}
	msg := warn.Message
	if warn.Directive != "" {
		msg = warn.Directive + ": " + msg
	}
	return "warning: " + where + ": " + msg
}
