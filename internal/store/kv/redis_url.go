package kv

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// mode is how Gatehouse reaches Redis.
type mode int

const (
	modeSingle   mode = iota // redis://, rediss://: one server
	modeSentinel             // redis+sentinel://: a primary found through Sentinel
	modeCluster              // redis+cluster://: a Redis Cluster
)

// topology is a parsed Gatehouse Redis URL. nodeURL is a single-server URL
// (redis:// or rediss://) carrying what every data node shares — credentials, TLS,
// database, timeouts — so that go-redis's own parser validates those once for all
// three forms.
type topology struct {
	mode     mode
	scheme   string   // as written, for messages
	nodeURL  string   // redis[s]://[user:pass@]first-address[/db][?params]
	addrs    []string // Sentinel or seed node addresses (host:port)
	master   string   // Sentinel: the primary's name
	sentUser string   // Sentinel: its own ACL user, if any
	sentPass string   // Sentinel: its own password, if any
	display  string   // the URL with every secret replaced by xxxxx
	secrets  []string // to scrub from error text
}

// topologyParams are the URL parameters accepted with redis+sentinel:// and
// redis+cluster:// (each is copied to go-redis's options; anything else is refused
// rather than silently ignored).
var topologyParams = map[string]bool{
	"dial_timeout": true, "read_timeout": true, "write_timeout": true,
	"pool_size": true, "min_idle_conns": true, "max_idle_conns": true,
	"conn_max_idle_time": true, "conn_max_lifetime": true, "client_name": true,
}

// parseTopology reads one of
//
//	redis://[user:password@]host:port[/db]                 one server (rediss:// for TLS)
//	redis+sentinel://[user:password@]h1:26379,h2:26379/primary-name[?db=N&sentinel_password=…]
//	redis+cluster://[user:password@]h1:7000,h2:7001        a cluster (any nodes; the rest are found)
//
// with rediss+sentinel:// and rediss+cluster:// for TLS to every node. The user and
// password are the data nodes'; Sentinels that have their own are given with
// sentinel_username and sentinel_password. Every problem is reported at once.
func parseTopology(rawURL string) (*topology, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, errors.New("kv redis: parsing URL: missing scheme (redis://, rediss://, redis+sentinel://, redis+cluster://)")
	}
	base, kind, _ := strings.Cut(scheme, "+")
	t := &topology{scheme: scheme}
	switch kind {
	case "":
		return singleTopology(rawURL)
	case "sentinel":
		t.mode = modeSentinel
	case "cluster":
		t.mode = modeCluster
	}
	// The host list is not a URL host (it has commas): take it out, parse the rest.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hostList := "", authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo, hostList = authority[:at+1], authority[at+1:]
	}
	u, err := url.Parse(base + "://" + userinfo + "host-list" + tail)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // url.Error quotes the whole URL, password included
			err = ue.Err
		}
		return nil, fmt.Errorf("kv redis: parsing URL: %w", err)
	}
	password, _ := u.User.Password()
	q := u.Query()
	t.sentUser, t.sentPass = q.Get("sentinel_username"), q.Get("sentinel_password")
	t.secrets = nonEmpty(password, t.sentPass)
	t.display = redactTopology(scheme, u, hostList)

	var errs []error
	if (base != "redis" && base != "rediss") || t.mode == modeSingle {
		errs = append(errs, fmt.Errorf("scheme must be redis://, rediss://, redis+sentinel://, rediss+sentinel://, redis+cluster:// or rediss+cluster://, not %q", scheme))
	}
	defaultPort := "6379"
	if t.mode == modeSentinel {
		defaultPort = "26379"
	}
	for h := range strings.SplitSeq(hostList, ",") {
		addr, err := hostPort(h, defaultPort)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.addrs = append(t.addrs, addr)
	}
	segs := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
	db := "0"
	switch t.mode {
	case modeSentinel:
		if len(segs) != 1 {
			errs = append(errs, fmt.Errorf("%s:// needs the primary's name (as the Sentinels know it) as the only path segment, e.g. %s://h1:26379,h2:26379/mymaster; got path %q", scheme, scheme, u.Path))
		} else {
			t.master = segs[0]
		}
		if v := q.Get("db"); v != "" {
			db = v
		}
	case modeCluster:
		if len(segs) != 0 {
			errs = append(errs, fmt.Errorf("%s:// takes no path (a cluster has only database 0); got %q", scheme, u.Path))
		}
	}
	node := url.Values{}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		switch {
		case topologyParams[name]:
			node[name] = q[name]
		case t.mode == modeSentinel && (name == "db" || name == "sentinel_username" || name == "sentinel_password"):
		case refusedQuery[name] != "":
			errs = append(errs, fmt.Errorf("URL parameter %s is not accepted: %s", name, refusedQuery[name]))
		default:
			errs = append(errs, fmt.Errorf("URL parameter %s is not accepted with %s:// (accepted: %s)", name, scheme, strings.Join(acceptedParams(t.mode), ", ")))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("kv redis: configuring %s: %w", t.display, scrubbedAll(errors.Join(errs...), t.secrets))
	}
	nu := url.URL{Scheme: base, User: u.User, Host: t.addrs[0], Path: "/" + db, RawQuery: node.Encode()}
	t.nodeURL = nu.String()
	return t, nil
}

// singleTopology is a plain redis:// or rediss:// URL, checked later as it always was.
func singleTopology(rawURL string) (*topology, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("kv redis: parsing URL: %w", err)
	}
	password, _ := u.User.Password()
	return &topology{mode: modeSingle, scheme: u.Scheme, nodeURL: rawURL, display: u.Redacted(), secrets: nonEmpty(password)}, nil
}

// hostPort validates one address of a host list, adding the default port.
func hostPort(h, defaultPort string) (string, error) {
	if h == "" {
		return "", errors.New("empty address in the host list (addresses are separated by commas)")
	}
	if !strings.Contains(h, ":") || (strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]")) {
		h = net.JoinHostPort(strings.Trim(h, "[]"), defaultPort)
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", h, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("address %q: port must be a number from 1 to 65535", h)
	}
	if host == "" {
		return "", fmt.Errorf("address %q: no host", h)
	}
	return net.JoinHostPort(host, port), nil
}

// acceptedParams lists the URL parameters a mode accepts, for error messages.
func acceptedParams(m mode) []string {
	names := slices.Collect(maps.Keys(topologyParams))
	if m == modeSentinel {
		names = append(names, "db", "sentinel_username", "sentinel_password")
	}
	slices.Sort(names)
	return names
}

// redactTopology is the URL as written with the password and sentinel_password
// replaced by xxxxx.
func redactTopology(scheme string, u *url.URL, hostList string) string {
	var b strings.Builder
	b.WriteString(scheme + "://")
	if u.User != nil {
		if _, has := u.User.Password(); has {
			b.WriteString(url.UserPassword(u.User.Username(), "xxxxx").String())
		} else {
			b.WriteString(u.User.String())
		}
		b.WriteString("@")
	}
	b.WriteString(hostList)
	b.WriteString(u.EscapedPath())
	if q := u.Query(); len(q) > 0 {
		if q.Has("sentinel_password") {
			q.Set("sentinel_password", "xxxxx")
		}
		b.WriteString("?" + q.Encode())
	}
	return b.String()
}

// universal turns the node options (validated, defaults applied) into go-redis's
// universal options for a Sentinel or Cluster topology.
func (t *topology) universal(o *redis.Options) *redis.UniversalOptions {
	u := &redis.UniversalOptions{
		Addrs:                    t.addrs,
		MasterName:               t.master,
		SentinelUsername:         t.sentUser,
		SentinelPassword:         t.sentPass,
		IsClusterMode:            t.mode == modeCluster,
		ClientName:               o.ClientName,
		DB:                       o.DB,
		Username:                 o.Username,
		Password:                 o.Password,
		MaxRetries:               o.MaxRetries,
		MinRetryBackoff:          o.MinRetryBackoff,
		MaxRetryBackoff:          o.MaxRetryBackoff,
		DialTimeout:              o.DialTimeout,
		DialerRetries:            o.DialerRetries,
		ReadTimeout:              o.ReadTimeout,
		WriteTimeout:             o.WriteTimeout,
		ContextTimeoutEnabled:    o.ContextTimeoutEnabled,
		PoolSize:                 o.PoolSize,
		PoolTimeout:              o.PoolTimeout,
		MinIdleConns:             o.MinIdleConns,
		MaxIdleConns:             o.MaxIdleConns,
		ConnMaxIdleTime:          o.ConnMaxIdleTime,
		ConnMaxLifetime:          o.ConnMaxLifetime,
		TLSConfig:                o.TLSConfig,
		DisableIdentity:          o.DisableIdentity,
		MaintNotificationsConfig: o.MaintNotificationsConfig,
	}
	return u
}

func nonEmpty(ss ...string) []string {
	return slices.DeleteFunc(ss, func(s string) bool { return s == "" })
}
