package kvtest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// SentinelConfig configures a private Sentinel set-up.
type SentinelConfig struct {
	// Password is required by the primary and the replica (not by the Sentinels).
	Password string
	// DownAfter is Sentinel's down-after-milliseconds: how long the primary must be
	// silent before a Sentinel thinks it down. Default 1s.
	DownAfter time.Duration
	// TLS makes every server (Sentinels included) speak TLS only, also to each
	// other, with certificates from one throw-away CA (ClientTLS trusts it).
	TLS bool
}

// SentinelSetup is a primary, one replica and three Sentinels (quorum 2), each a
// private redis-server process on its own port, killed when the test ends.
type SentinelSetup struct {
	t         testing.TB
	cfg       SentinelConfig
	Master    string // the name the Sentinels know the primary by
	pki       *testPKI
	nodes     []*PrivateRedis
	sentinels []*PrivateRedis
}

// StartSentinel starts a Sentinel set-up and waits until the replica is in sync and
// every Sentinel knows the replica and the other Sentinels (so that a fail-over can
// happen at once).
func StartSentinel(t testing.TB, cfg SentinelConfig) *SentinelSetup {
	t.Helper()
	testenv.Short(t, "a private Redis Sentinel set-up")
	if cfg.DownAfter <= 0 {
		cfg.DownAfter = time.Second
	}
	s := &SentinelSetup{t: t, cfg: cfg, Master: "gatehouse-primary", pki: sharedPKI(t, cfg.TLS)}
	primary := StartPrivateRedisWith(t, PrivateRedisConfig{Password: cfg.Password, Args: s.auth(), TLS: cfg.TLS, pki: s.pki})
	replica := StartPrivateRedisWith(t, PrivateRedisConfig{Password: cfg.Password, TLS: cfg.TLS, pki: s.pki,
		Args: append(s.auth(), "--replicaof", "127.0.0.1", portOf(primary.Addr()))})
	s.nodes = []*PrivateRedis{primary, replica}
	s.waitFor("the replica to be in sync", 20*time.Second, func(ctx context.Context) error {
		info, err := s.node(replica.Addr()).Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("replica not in sync: %s", info)
		}
		return nil
	})
	lines := []string{
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %s 2", s.Master, portOf(primary.Addr())),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", s.Master, cfg.DownAfter.Milliseconds()),
		// A failed election is retried after this long, so keep it short.
		fmt.Sprintf("sentinel failover-timeout %s %d", s.Master, 3*cfg.DownAfter.Milliseconds()),
		fmt.Sprintf("sentinel parallel-syncs %s 1", s.Master),
	}
	if cfg.Password != "" {
		lines = append(lines, fmt.Sprintf("sentinel auth-pass %s %s", s.Master, cfg.Password))
	}
	if cfg.TLS {
		lines = append(lines, "tls-replication yes") // Sentinels talk TLS to the servers and each other
	}
	for range 3 {
		s.sentinels = append(s.sentinels, StartPrivateRedisWith(t, PrivateRedisConfig{Sentinel: lines, TLS: cfg.TLS, pki: s.pki}))
	}
	for _, sn := range s.sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), TLSConfig: s.pki.ClientTLS()})
		t.Cleanup(func() { _ = c.Close() })
		s.waitFor("Sentinel "+sn.Addr()+" to know the replica and the other Sentinels", 30*time.Second, func(ctx context.Context) error {
			reps, err := c.Replicas(ctx, s.Master).Result()
			if err != nil {
				return err
			}
			sens, err := c.Sentinels(ctx, s.Master).Result()
			if err != nil {
				return err
			}
			if len(reps) != 1 || len(sens) != 2 {
				return fmt.Errorf("knows %d replicas and %d other Sentinels, want 1 and 2", len(reps), len(sens))
			}
			return nil
		})
	}
	return s
}

// auth is what a data node needs to replicate from a primary with a password.
func (s *SentinelSetup) auth() []string {
	var a []string
	if s.cfg.Password != "" {
		a = append(a, "--masterauth", s.cfg.Password)
	}
	if s.cfg.TLS {
		a = append(a, "--tls-replication", "yes")
	}
	return a
}

// ClientTLS is a client TLS config trusting the set-up's CA (nil without TLS): pass
// it as kv.RedisOptions.TLSConfig.
func (s *SentinelSetup) ClientTLS() *tls.Config { return s.pki.ClientTLS() }

// sharedPKI is one CA for every server of a set-up (nil without TLS).
func sharedPKI(t testing.TB, on bool) *testPKI {
	t.Helper()
	if !on {
		return nil
	}
	pki, err := newTestPKI(t.TempDir())
	if err != nil {
		t.Fatalf("making test certificates: %v", err)
	}
	return pki
}

// URL is the redis+sentinel:// URL naming all three Sentinels.
func (s *SentinelSetup) URL() string {
	addrs := make([]string, len(s.sentinels))
	for i, sn := range s.sentinels {
		addrs[i] = sn.Addr()
	}
	user := ""
	if s.cfg.Password != "" {
		user = url.UserPassword("", s.cfg.Password).String() + "@"
	}
	return scheme(s.cfg.TLS) + "+sentinel://" + user + strings.Join(addrs, ",") + "/" + s.Master
}

// Primary is the primary's address as the Sentinels report it now.
func (s *SentinelSetup) Primary() string {
	s.t.Helper()
	for _, sn := range s.sentinels {
		if a, err := s.primaryBy(sn); err == nil {
			return a
		}
	}
	s.t.Fatalf("no Sentinel reports a primary for %s", s.Master)
	return ""
}

func (s *SentinelSetup) primaryBy(sn *PrivateRedis) (string, error) {
	c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second, TLSConfig: s.pki.ClientTLS()})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hp, err := c.GetMasterAddrByName(ctx, s.Master).Result()
	if err != nil {
		return "", err
	}
	return hp[0] + ":" + hp[1], nil
}

// Replicate waits until every write the primary has taken is on the replica
// (Redis's WAIT), so that a fail-over cannot lose it.
func (s *SentinelSetup) Replicate() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := s.node(s.Primary()).Do(ctx, "WAIT", 1, 5000).Int()
	if err != nil || n < 1 {
		s.t.Fatalf("WAIT for the replica: %d replicas, %v", n, err)
	}
}

// KillPrimary kills the current primary (SIGKILL) and returns its address.
func (s *SentinelSetup) KillPrimary() string {
	s.t.Helper()
	addr := s.Primary()
	for _, n := range s.nodes {
		if n.Addr() == addr {
			n.Stop()
			return addr
		}
	}
	s.t.Fatalf("the primary %s is none of this set-up's servers", addr)
	return ""
}

// WaitFailover waits until a majority of the Sentinels report a primary other than
// old and that server answers as a primary, and returns the new address.
func (s *SentinelSetup) WaitFailover(old string, timeout time.Duration) string {
	s.t.Helper()
	var now string
	s.waitFor("the fail-over away from "+old, timeout, func(ctx context.Context) error {
		moved := 0
		for _, sn := range s.sentinels {
			if a, err := s.primaryBy(sn); err == nil && a != old {
				moved, now = moved+1, a
			}
		}
		if moved < 2 {
			return fmt.Errorf("%d of 3 Sentinels report a new primary", moved)
		}
		role, err := s.node(now).Do(ctx, "ROLE").Slice()
		if err != nil {
			return err
		}
		if len(role) == 0 || role[0] != "master" {
			return fmt.Errorf("%s answers ROLE %v", now, role)
		}
		return nil
	})
	return now
}

// node is a plain client on one data server, closed when the test ends.
func (s *SentinelSetup) node(addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, Password: s.cfg.Password, DialTimeout: time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1,
		TLSConfig: s.pki.ClientTLS()})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *SentinelSetup) waitFor(what string, timeout time.Duration, cond func(ctx context.Context) error) {
	s.t.Helper()
	waitFor(s.t, what, timeout, cond)
}

// ClusterConfig configures a private Redis Cluster.
type ClusterConfig struct {
	// Password is required by every node.
	Password string
	// TLS makes every node speak TLS only, on the cluster bus too, with certificates
	// from one throw-away CA (ClientTLS trusts it).
	TLS bool
}

// Cluster is three primaries (no replicas) sharing the 16384 hash slots, each a
// private redis-server process, killed when the test ends.
type Cluster struct {
	cfg   ClusterConfig
	pki   *testPKI
	Nodes []*PrivateRedis
}

// StartCluster starts three cluster-enabled servers, joins them with redis-cli
// --cluster create, and waits until every node reports the cluster healthy.
func StartCluster(t testing.TB, cfg ClusterConfig) *Cluster {
	t.Helper()
	testenv.Short(t, "a private Redis Cluster")
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		testenv.Need(t, "redis-cli is not installed (apt-get install redis-tools)")
	}
	c := &Cluster{cfg: cfg, pki: sharedPKI(t, cfg.TLS)}
	args := []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"}
	if cfg.Password != "" {
		args = append(args, "--masterauth", cfg.Password)
	}
	create := []string{"--cluster", "create"}
	if cfg.TLS {
		args = append(args, "--tls-cluster", "yes", "--tls-replication", "yes")
		create = append([]string{"--tls", "--cacert", c.pki.caFile()}, create...)
	}
	for range 3 {
		n := StartPrivateRedisWith(t, PrivateRedisConfig{Password: cfg.Password, Args: args, TLS: cfg.TLS, pki: c.pki})
		c.Nodes = append(c.Nodes, n)
		create = append(create, n.Addr())
	}
	// redis-cli waits for the nodes to agree; bound it, so a broken set-up fails.
	cctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, cli, append(create, "--cluster-replicas", "0", "--cluster-yes")...)
	cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+cfg.Password)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.Nodes {
		nc := redis.NewClient(&redis.Options{Addr: n.Addr(), Password: cfg.Password, MaxRetries: -1, TLSConfig: c.pki.ClientTLS()})
		t.Cleanup(func() { _ = nc.Close() })
		waitFor(t, "node "+n.Addr()+" to see the cluster healthy", 30*time.Second, func(ctx context.Context) error {
			info, err := nc.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				return fmt.Errorf("cluster not ready: %s", info)
			}
			return nil
		})
	}
	return c
}

// URL is the redis+cluster:// URL naming two of the three nodes (the third is
// found through them).
func (c *Cluster) URL() string {
	user := ""
	if c.cfg.Password != "" {
		user = url.UserPassword("", c.cfg.Password).String() + "@"
	}
	return scheme(c.cfg.TLS) + "+cluster://" + user + c.Nodes[0].Addr() + "," + c.Nodes[1].Addr()
}

// ClientTLS is a client TLS config trusting the cluster's CA (nil without TLS).
func (c *Cluster) ClientTLS() *tls.Config { return c.pki.ClientTLS() }

// scheme is redis, or rediss with TLS.
func scheme(tls bool) string {
	if tls {
		return "rediss"
	}
	return "redis"
}

// portOf is the port of host:port.
func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// waitFor polls cond until it returns nil, failing the test after timeout with
// cond's last error.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := cond(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting %s for %s: %v", timeout, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
