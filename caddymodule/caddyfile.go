package caddymodule

import (
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("gatehouse", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("gatehouse", parseHandlerDirective)
	httpcaddyfile.RegisterDirectiveOrder("gatehouse", httpcaddyfile.Before, "basic_auth")
}

// parseGlobalOption sets up the app from the global option block:
//
//	gatehouse {
//	    store               <dsn>
//	    bcrypt_cost         <n>
//	    min_password_length <n>
//	    signin_cpu_share    <fraction, e.g. 0.15>
//	    session_lifetime    <duration>
//	    idle_timeout        <duration>
//	    reauth_age          <duration>
//	    session_cache_ttl   <duration>
//	    signing_key_rotation <duration>
//	    permission_review   <period>|off [skip <tenant slug>...]
//	    refresh_grace       <duration>
//	    token_cache_size    <n>
//	    base_url            <url>
//	    audit_retention     <duration, e.g. 400d; 0: keep forever>
//	    audit_checkpoint_every    <n records>
//	    audit_checkpoint_interval <duration>
//	    master_key_file     <path>
//	    master_key          <base64 key, e.g. {env.GATEHOUSE_MASTER_KEY}>
//	    redis               <redis:// or rediss:// URL>
//	    smtp {
//	        host <host>; port <n>; username <u>; password <p>; from <addr>; tls starttls|tls|none
//	    }
//	    mail_templates      <dir>
//	    mail_retention      <duration, default 24h>
//	    backup {
//	        every <duration>; keep <duration>; dir <directory>
//	    }
//	    geoip_db            <path to a MaxMind City .mmdb>
//	    max_travel_speed    <km/h>
//	    redis_key_prefix    <prefix>
//	    rate_limit          <class> <per-ip count/period> [<per-user count/period>]
//	    lockout_threshold   <n>
//	    lockout_duration    <duration>
//	    lockout_max         <duration>
//	    passkey_rp_id       <domain>
//	    passkey_origins     <origin> [<origin>...]
//	    audit_spool         <path>
//	    audit_spool_max     <size, e.g. 256MiB>
//	}
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the gatehouse global option may appear only once")
	}
	app := new(App)
	d.Next() // option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		if seen[name] && name != "rate_limit" {
			return nil, d.Errf("gatehouse: subdirective %q given twice", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "rate_limit":
			err = rateLimitArgs(d, app)
		case "store":
			app.Store, err = oneArg(d)
		case "base_url":
			app.BaseURL, err = oneArg(d)
		case "master_key_file":
			app.MasterKeyFile, err = oneArg(d)
		case "master_key":
			app.MasterKey, err = oneArg(d)
		case "redis":
			app.Redis, err = oneArg(d)
		case "smtp":
			app.SMTP = new(SMTP)
			err = smtpBlock(d, app.SMTP)
		case "mail_templates":
			app.MailTemplates, err = oneArg(d)
		case "mail_retention":
			app.MailRetention, err = durationArg(d)
			if r := time.Duration(app.MailRetention); err == nil && r < minMailRetention {
				err = d.Errf("gatehouse: mail_retention %q: at least 1h (default 24h)", d.Val())
			}
		case "backup":
			app.Backup, err = backupBlock(d)
		case "geoip_db":
			app.GeoIPDB, err = oneArg(d)
		case "max_travel_speed":
			var n int
			n, err = intArg(d)
			app.MaxTravelSpeed = float64(n)
		case "redis_key_prefix":
			app.RedisKeyPrefix, err = oneArg(d)
		case "lockout_threshold":
			app.LockoutThreshold, err = intArg(d)
		case "lockout_duration":
			app.LockoutDuration, err = durationArg(d)
		case "lockout_max":
			app.LockoutMax, err = durationArg(d)
		case "passkey_rp_id":
			app.PasskeyRPID, err = oneArg(d)
		case "passkey_origins":
			if app.PasskeyOrigins = d.RemainingArgs(); len(app.PasskeyOrigins) == 0 {
				err = d.Err("gatehouse: passkey_origins needs at least one origin")
			}
		case "bcrypt_cost":
			app.BcryptCost, err = intArg(d)
		case "min_password_length":
			app.MinPasswordLength, err = intArg(d)
		case "signin_cpu_share":
			var v string
			if v, err = oneArg(d); err == nil {
				app.SigninCPUShare, err = strconv.ParseFloat(v, 64)
				if err != nil || app.SigninCPUShare <= 0 || app.SigninCPUShare > 1 {
					err = d.Errf("gatehouse: signin_cpu_share %q: a fraction of the CPU above 0 and at most 1, e.g. 0.15", v)
				}
			}
		case "session_lifetime":
			app.SessionLifetime, err = durationArg(d)
		case "idle_timeout":
			app.IdleTimeout, err = durationArg(d)
		case "reauth_age":
			app.ReauthAge, err = durationArg(d)
		case "session_cache_ttl":
			app.SessionCacheTTL, err = durationArg(d)
		case "permission_review":
			app.PermissionReview, err = permissionReviewArgs(d)
		case "signing_key_rotation":
			app.SigningKeyRotation, err = durationArg(d)
		case "refresh_grace":
			app.RefreshGrace, err = durationArg(d)
		case "token_cache_size":
			app.TokenCacheSize, err = intArg(d)
		case "audit_spool":
			app.AuditSpool, err = oneArg(d)
		case "audit_spool_max":
			if app.AuditSpoolMax, err = oneArg(d); err == nil {
				if _, perr := parseSize(app.AuditSpoolMax); perr != nil {
					err = d.Errf("gatehouse: audit_spool_max: %v", perr)
				}
			}
		case "audit_retention":
			app.AuditRetention, err = durationArg(d)
			if r := time.Duration(app.AuditRetention); err == nil && r != 0 && r < minAuditRetention {
				err = d.Errf("gatehouse: audit_retention %q: 0 (keep forever) or at least 1h (e.g. 400d)", d.Val())
			}
		case "audit_checkpoint_every":
			app.AuditCheckpointEvery, err = intArg(d)
			if err == nil && app.AuditCheckpointEvery < 1 {
				err = d.Errf("gatehouse: audit_checkpoint_every %q: a number of records, at least 1", d.Val())
			}
		case "audit_checkpoint_interval":
			app.AuditCheckpointInterval, err = durationArg(d)
			if i := time.Duration(app.AuditCheckpointInterval); err == nil && i < time.Minute {
				err = d.Errf("gatehouse: audit_checkpoint_interval %q: at least 1m (the trails are looked at once a minute)", d.Val())
			}
		default:
			return nil, d.Errf("gatehouse: unknown subdirective %q", name)
		}
		if err != nil {
			return nil, err
		}
	}
	return httpcaddyfile.App{Name: "gatehouse", Value: caddyconfig.JSON(app, nil)}, nil
}

// parseHandlerDirective sets up the handler:
//
//	gatehouse [<matcher>] {
//	    tenant         <slug>
//	    tenant_by_host
//	    portal         <path prefix>
//	    home_url       <path or URL of the app>
//	    identity_headers default|all|<header>|+<header>|-<header>...
//	    remote_headers
//	    token_audience <aud>
//	    assertion      on|off
//	    forward_authorization
//	    strip_header   <name>...
//	    keep_header    <name>...
//	    default_policy signed_in|deny
//	    rule           <path pattern> public|signed_in|deny|<resource:action> [<METHOD>...]
//	                   [scope=own|team|tenant] [owner_param=<name>] [team_param=<name>] [mfa]
//	                   [audit=on|off|<METHOD>,...]
//	    policy_file    <file.yaml>
//	    limit          <path pattern> <per-IP count/period> [<per-user count/period>]
//	    security_headers [override] [{ hsts|csp|frame_options|referrer_policy|nosniff <value> }]
//	    forward_auth_endpoint <path>
//	}
func parseHandlerDirective(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	d := h.Dispenser
	d.Next() // directive name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	hd := new(Handler)
	seen := map[string]bool{}
	assertion := "" // "on", "off": applied after the block, whatever the order
	for d.NextBlock(0) {
		name := d.Val()
		if seen[name] && name != "rule" && name != "limit" && name != "strip_header" && name != "keep_header" {
			return nil, d.Errf("gatehouse: subdirective %q given twice", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "tenant":
			hd.Tenant, err = oneArg(d)
		case "tenant_by_host":
			err = noArgs(d)
			hd.TenantByHost = true
		case "portal":
			hd.Portal, err = oneArg(d)
		case "home_url":
			hd.HomeURL, err = oneArg(d)
			if err == nil && !validHomeURL(hd.HomeURL) {
				err = d.Errf("gatehouse: home_url %q: a same-site path such as / or an absolute http(s) URL", hd.HomeURL)
			}
		case "identity_headers":
			hd.IdentityHeaders = d.RemainingArgs()
			if _, perr := identity.ParseSelection(hd.IdentityHeaders); perr != nil {
				err = d.Errf("gatehouse: identity_headers %s: %v", strings.Join(hd.IdentityHeaders, " "), perr)
			}
		case "remote_headers":
			err = noArgs(d)
			hd.RemoteHeaders = true
		case "token_audience":
			hd.TokenAudience, err = oneArg(d)
		case "assertion":
			var v string
			if v, err = oneArg(d); err == nil {
				switch v {
				case "on", "off":
					assertion = v
				default:
					err = d.Errf("gatehouse: assertion %q: on or off", v)
				}
			}
		case "forward_authorization":
			err = noArgs(d)
			hd.ForwardAuthorization = true
		case "strip_header", "keep_header":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.Errf("gatehouse: %s needs at least one header name", name)
			}
			if name == "strip_header" {
				hd.StripHeaders = append(hd.StripHeaders, args...)
			} else {
				hd.KeepHeaders = append(hd.KeepHeaders, args...)
			}
			if _, serr := identity.NewStripper(hd.StripHeaders, hd.KeepHeaders); serr != nil {
				err = d.Errf("gatehouse: %s %s: %v", name, strings.Join(args, " "), serr)
			}
		case "policy_file":
			hd.PolicyFile, err = oneArg(d)
		case "default_policy":
			hd.DefaultPolicy, err = oneArg(d)
			if err == nil {
				if a, perr := policy.ParseAccess(hd.DefaultPolicy); perr != nil || a == policy.Public {
					err = d.Errf("gatehouse: default_policy %q: must be signed_in or deny", hd.DefaultPolicy)
				}
			}
		case "limit":
			args := d.RemainingArgs()
			if len(args) < 2 || len(args) > 3 {
				return nil, d.Err("gatehouse: limit needs a path pattern, a per-IP rate like 60/1m, and optionally a per-user rate")
			}
			l := RouteLimit{Path: args[0], PerIP: args[1]}
			if len(args) == 3 {
				l.PerUser = args[2]
			}
			hd.Limits = append(hd.Limits, l)
			if _, perr := (&Handler{Limits: []RouteLimit{l}}).routeLimits(); perr != nil {
				err = d.Errf("gatehouse: %v", perr)
			}
		case "security_headers":
			hd.SecurityHeaders, err = securityHeadersBlock(d)
		case "forward_auth_endpoint":
			if hd.ForwardAuthEndpoint, err = oneArg(d); err == nil {
				if verr := validForwardAuthEndpoint(hd.ForwardAuthEndpoint, ""); verr != nil {
					err = d.Errf("gatehouse: %v", verr)
				}
			}
		case "rule":
			var r Rule
			r, err = ruleArgs(d)
			hd.Rules = append(hd.Rules, r)
		default:
			return nil, d.Errf("gatehouse: unknown subdirective %q", name)
		}
		if err != nil {
			return nil, err
		}
	}
	if hd.Tenant != "" && hd.TenantByHost {
		return nil, d.Err("gatehouse: tenant and tenant_by_host are mutually exclusive")
	}
	switch assertion {
	case "on": // added to the headers named, or to the default
		if len(hd.IdentityHeaders) == 0 {
			hd.IdentityHeaders = []string{"default"}
		}
		hd.IdentityHeaders = append(hd.IdentityHeaders, "+assertion")
	case "off":
		hd.NoAssertion = true
	}
	return hd, nil
}

func ruleArgs(d *caddyfile.Dispenser) (Rule, error) {
	args := d.RemainingArgs()
	if len(args) < 2 {
		return Rule{}, d.Err("gatehouse: rule needs a path pattern and an access (public, signed_in, deny) or a permission (resource:action)")
	}
	r := Rule{Path: args[0]}
	if strings.Contains(args[1], ":") {
		r.Require = args[1]
	} else {
		r.Access = args[1]
		if _, err := policy.ParseAccess(r.Access); err != nil {
			return Rule{}, d.Errf("gatehouse: rule %s: unknown access %q (public, signed_in, deny, or a permission such as deals:read)", r.Path, r.Access)
		}
	}
	for _, a := range args[2:] {
		key, val, isOpt := strings.Cut(a, "=")
		switch {
		case a == "mfa":
			r.MFA = true
		case isOpt && key == "scope":
			r.Scope = val
		case isOpt && key == "owner_param":
			r.OwnerParam = val
		case isOpt && key == "team_param":
			r.TeamParam = val
		case isOpt && key == "audit":
			switch val {
			case "on":
			case "off":
				r.NoAudit = true
			case "":
				return Rule{}, d.Errf("gatehouse: rule %s: audit= wants on, off or methods to record besides the writes (audit=GET)", r.Path)
			default:
				r.AuditMethods = append(r.AuditMethods, upper(strings.Split(val, ","))...)
			}
		case isOpt:
			return Rule{}, d.Errf("gatehouse: rule %s: unknown option %q (scope=, owner_param=, team_param=, mfa, audit=)", r.Path, a)
		default:
			r.Methods = append(r.Methods, strings.ToUpper(a))
		}
	}
	pr, err := r.policyRule()
	if err == nil {
		_, err = policy.Compile([]policy.Rule{pr}, policy.Deny)
	}
	if err != nil {
		return Rule{}, d.Errf("gatehouse: rule %s: %v", r.Path, err)
	}
	return r, nil
}

func oneArg(d *caddyfile.Dispenser) (string, error) {
	name := d.Val()
	args := d.RemainingArgs()
	if len(args) != 1 {
		return "", d.Errf("gatehouse: %s takes exactly one value", name)
	}
	return args[0], nil
}

func noArgs(d *caddyfile.Dispenser) error {
	name := d.Val()
	if args := d.RemainingArgs(); len(args) != 0 {
		return d.Errf("gatehouse: %s takes no value, got %q", name, args[0])
	}
	return nil
}

func intArg(d *caddyfile.Dispenser) (int, error) {
	name := d.Val()
	s, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, d.Errf("gatehouse: %s %q: not a whole number", name, s)
	}
	return n, nil
}

func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	s, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("gatehouse: %s %q: not a duration (e.g. 30m, 12h, 30d)", name, s)
	}
	return caddy.Duration(dur), nil
}

// rateLimitArgs reads `rate_limit <class> <per-ip> [<per-user>]` (repeatable, one per class).
func rateLimitArgs(d *caddyfile.Dispenser, app *App) error {
	args := d.RemainingArgs()
	if len(args) < 2 || len(args) > 3 {
		return d.Err("gatehouse: rate_limit needs a class (login, second_factor, token, api), a per-IP rate like 30/1m, and optionally a per-user rate")
	}
	if app.RateLimits == nil {
		app.RateLimits = map[string]RateLimit{}
	}
	if _, dup := app.RateLimits[args[0]]; dup {
		return d.Errf("gatehouse: rate_limit %s given twice", args[0])
	}
	rl := RateLimit{PerIP: args[1]}
	if len(args) == 3 {
		rl.PerUser = args[2]
	}
	app.RateLimits[args[0]] = rl
	if _, err := (&App{RateLimits: map[string]RateLimit{args[0]: rl}}).parseRateRules(); err != nil {
		return d.Errf("gatehouse: %v", err)
	}
	return nil
}

// smtpBlock reads the smtp { … } block.
func smtpBlock(d *caddyfile.Dispenser, s *SMTP) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if seen[name] {
			return d.Errf("gatehouse: smtp %q given twice", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "host":
			s.Host, err = oneArg(d)
		case "port":
			s.Port, err = intArg(d)
		case "username":
			s.Username, err = oneArg(d)
		case "password":
			s.Password, err = oneArg(d)
		case "from":
			s.From, err = oneArg(d)
		case "tls":
			s.TLS, err = oneArg(d)
			if err == nil && s.TLS != "starttls" && s.TLS != "tls" && s.TLS != "none" {
				err = d.Errf("gatehouse: smtp tls %q: use starttls, tls or none", s.TLS)
			}
		default:
			return d.Errf("gatehouse: unknown smtp subdirective %q", name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
