package caddymodule

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Defaults of security_headers given without values.
const (
	defaultHSTS           = "max-age=31536000"
	defaultFrameOptions   = "SAMEORIGIN"
	defaultReferrerPolicy = "strict-origin-when-cross-origin"
	headerOff             = "off"
)

// SecurityHeaders adds response headers that protect browsers to the responses of the
// site's upstream, for apps that do not set them. A header the app set is left as it is
// unless Override is true. Each value is the header's value, or "off" for none.
type SecurityHeaders struct {
	// HSTS is Strict-Transport-Security, sent on HTTPS requests only.
	// Default "max-age=31536000".
	HSTS string `json:"hsts,omitempty"`
	// CSP is Content-Security-Policy. Default: none (an app's policy is its own).
	CSP string `json:"csp,omitempty"`
	// FrameOptions is X-Frame-Options: DENY or SAMEORIGIN. Default SAMEORIGIN.
	FrameOptions string `json:"frame_options,omitempty"`
	// ReferrerPolicy is Referrer-Policy. Default strict-origin-when-cross-origin.
	ReferrerPolicy string `json:"referrer_policy,omitempty"`
	// ContentTypeOptions is X-Content-Type-Options. Default "nosniff".
	ContentTypeOptions string `json:"content_type_options,omitempty"`
	// Override replaces the app's own values. Default false: an app's header wins.
	Override bool `json:"override,omitempty"`
}

const maxSecHeaders = 5

// secHeaders is SecurityHeaders compiled at Provision: canonical names and values
// ready to be put in a response's header map.
type secHeaders struct {
	keys     [maxSecHeaders]string
	vals     [maxSecHeaders]string
	n        int
	hsts     int // index of Strict-Transport-Security, -1 when off
	override bool
}

var referrerPolicies = map[string]bool{
	"no-referrer": true, "no-referrer-when-downgrade": true, "origin": true, "origin-when-cross-origin": true,
	"same-origin": true, "strict-origin": true, "strict-origin-when-cross-origin": true, "unsafe-url": true,
}

// compile checks every value and builds the header set; every problem is reported.
func (s *SecurityHeaders) compile() (*secHeaders, error) {
	out := &secHeaders{hsts: -1, override: s.Override}
	var errs []error
	add := func(key, val, def string, check func(string) (string, error), field string) {
		if val == "" {
			val = def
		}
		if val == "" || strings.EqualFold(val, headerOff) {
			return
		}
		v, err := check(val)
		if err != nil {
			errs = append(errs, fmt.Errorf("security_headers %s %q: %w", field, val, err))
			return
		}
		if key == "Strict-Transport-Security" {
			out.hsts = out.n
		}
		out.keys[out.n], out.vals[out.n] = key, v
		out.n++
	}
	add("Strict-Transport-Security", s.HSTS, defaultHSTS, checkHSTS, "hsts")
	add("Content-Security-Policy", s.CSP, "", checkCSP, "csp")
	add("X-Frame-Options", s.FrameOptions, defaultFrameOptions, checkFrameOptions, "frame_options")
	add("Referrer-Policy", s.ReferrerPolicy, defaultReferrerPolicy, checkReferrerPolicy, "referrer_policy")
	add("X-Content-Type-Options", s.ContentTypeOptions, "nosniff", checkNoSniff, "content_type_options")
	return out, errors.Join(errs...)
}

func checkHSTS(v string) (string, error) {
	const want = "max-age=<seconds>[; includeSubDomains][; preload]"
	parts := strings.Split(v, ";")
	age, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(parts[0])), "max-age=")
	if n, err := strconv.ParseUint(age, 10, 32); !ok || err != nil || (n > 0 && n < 300) {
		return "", fmt.Errorf("want %s, max-age 0 or at least 300", want)
	}
	out := []string{"max-age=" + age}
	for _, p := range parts[1:] {
		switch p = strings.TrimSpace(p); strings.ToLower(p) {
		case "includesubdomains":
			out = append(out, "includeSubDomains")
		case "preload":
			out = append(out, "preload")
		default:
			return "", fmt.Errorf("unknown directive %q; want %s", p, want)
		}
	}
	return strings.Join(out, "; "), nil
}

func checkCSP(v string) (string, error) {
	v = strings.TrimSpace(v)
	for _, c := range v {
		if c < 0x20 || c == 0x7f || c > 0x7e {
			return "", errors.New("a policy is printable ASCII on one line")
		}
	}
	if !strings.Contains(v, "-") {
		return "", errors.New("not a policy; e.g. \"default-src 'self'\"")
	}
	return v, nil
}

func checkFrameOptions(v string) (string, error) {
	switch u := strings.ToUpper(v); u {
	case "DENY", "SAMEORIGIN":
		return u, nil
	}
	return "", errors.New("DENY, SAMEORIGIN or off")
}

func checkReferrerPolicy(v string) (string, error) {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		if !referrerPolicies[p] {
			return "", fmt.Errorf("unknown policy %q (e.g. strict-origin-when-cross-origin, no-referrer, same-origin)", p)
		}
		out = append(out, p)
	}
	return strings.Join(out, ", "), nil
}

func checkNoSniff(v string) (string, error) {
	if !strings.EqualFold(v, "nosniff") {
		return "", errors.New("nosniff or off")
	}
	return "nosniff", nil
}

// wrap returns w adding the headers when the response's header is written.
func (s *secHeaders) wrap(w http.ResponseWriter, https bool) http.ResponseWriter {
	return &secHeaderWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, s: s, https: https}
}

// apply puts the headers into h: the values are copied into vals (one per response, so
// that a later handler changing a value in place never touches the shared ones).
func (s *secHeaders) apply(h http.Header, https bool, vals *[maxSecHeaders]string) {
	for i := range s.n {
		if i == s.hsts && !https {
			continue
		}
		k := s.keys[i]
		if !s.override {
			if _, set := h[k]; set {
				continue
			}
		}
		vals[i] = s.vals[i]
		h[k] = vals[i : i+1 : i+1]
	}
}

// secHeaderWriter adds the security headers just before the status line is written:
// after the upstream's headers were copied, so that an app's own header is seen.
// One allocation per proxied response.
type secHeaderWriter struct {
	caddyhttp.ResponseWriterWrapper
	s     *secHeaders
	https bool
	done  bool
	vals  [maxSecHeaders]string
}

func (w *secHeaderWriter) before() {
	if !w.done {
		w.done = true
		w.s.apply(w.ResponseWriter.Header(), w.https, &w.vals)
	}
}

func (w *secHeaderWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols { // not on 100 or 103
		w.before()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *secHeaderWriter) Write(b []byte) (int, error) {
	w.before()
	return w.ResponseWriter.Write(b)
}

func (w *secHeaderWriter) ReadFrom(r io.Reader) (int64, error) {
	w.before()
	return w.ResponseWriterWrapper.ReadFrom(r)
}

// FlushError is what http.ResponseController calls: a flush writes the header too.
func (w *secHeaderWriter) FlushError() error {
	w.before()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *secHeaderWriter) Flush() { _ = w.FlushError() }

// securityHeadersBlock reads
//
//	security_headers [override] {
//	    hsts            <value>|off
//	    csp             <policy>
//	    frame_options   DENY|SAMEORIGIN|off
//	    referrer_policy <policy>|off
//	    nosniff         on|off
//	    override
//	}
func securityHeadersBlock(d *caddyfile.Dispenser) (*SecurityHeaders, error) {
	s := new(SecurityHeaders)
	for _, a := range d.RemainingArgs() {
		if a != "override" {
			return nil, d.Errf("gatehouse: security_headers %q: the only argument is override; values go in a block", a)
		}
		s.Override = true
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if seen[name] {
			return nil, d.Errf("gatehouse: security_headers %q given twice", name)
		}
		seen[name] = true
		var err error
		var val string
		switch name {
		case "override":
			err = noArgs(d)
			s.Override = true
		case "csp":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.Err("gatehouse: security_headers csp needs a policy, e.g. \"default-src 'self'\"")
			}
			val = strings.Join(args, " ")
			s.CSP = val
		case "hsts", "frame_options", "referrer_policy":
			if val, err = oneArg(d); err == nil {
				switch name {
				case "hsts":
					s.HSTS = val
				case "frame_options":
					s.FrameOptions = val
				default:
					s.ReferrerPolicy = val
				}
			}
		case "nosniff":
			if val, err = oneArg(d); err == nil {
				switch val {
				case "on":
				case "off":
					s.ContentTypeOptions = headerOff
				default:
					err = d.Errf("gatehouse: security_headers nosniff %q: on or off", val)
				}
			}
		default:
			return nil, d.Errf("gatehouse: unknown security_headers subdirective %q (hsts, csp, frame_options, referrer_policy, nosniff, override)", name)
		}
		if err == nil {
			if _, cerr := s.compile(); cerr != nil {
				err = d.Errf("gatehouse: %v", cerr)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}
