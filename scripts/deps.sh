#!/usr/bin/env bash
# Makes what the tests use available: oathtool, Chromium, pdftotext (poppler-utils), nginx, Python's jwt, podman, Redis (127.0.0.1:6379), and PostgreSQL on 127.0.0.1:5432 (trust auth,
# database "test"). If none answers, it starts the local cluster, or installs and starts
# one when the machine has none (needs root and apt-get, as in CI).
set -uo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# Tools the tests drive: an independent TOTP implementation, a real browser and an
# independent PDF reader.
missing=()
command -v oathtool >/dev/null || missing+=(oathtool)
command -v chromium >/dev/null || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools) # redis-cli --cluster create (private test clusters)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
# nginx (auth_request) in front of Gatehouse's forward-auth route; run as a private process.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
# The container tests: util-linux's unshare/setpriv run the binary as the image does;
# podman builds the image (FROM scratch) to check what it declares.
command -v setpriv >/dev/null || missing+=(util-linux)
command -v podman >/dev/null || missing+=(podman)
# An independent JWT implementation (Debian's python3-jwt with python3-cryptography,
# under /usr/bin/python3) checks Gatehouse's tokens against the served JWKS.
/usr/bin/python3 -c 'import jwt, cryptography' 2>/dev/null || missing+=(python3-jwt python3-cryptography)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  (as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) ||
    echo "!! could not install ${missing[*]}; the tests that need them skip (or fail with CI set)"
fi

pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }

if ! pg_up; then
  echo "== PostgreSQL not reachable on 127.0.0.1:5432; starting it"
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  for v in $(ls /etc/postgresql 2>/dev/null); do
    as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true
  done
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  if pg_up; then
    # trust auth for local test connections and a "test" database, as on the dev machines
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
      if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
        as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
        as_root pg_ctlcluster --skip-systemctl-redirect "$(basename "$(dirname "$(dirname "$hba")")")" main reload 2>/dev/null || true
      fi
    done
    as_root su postgres -c "psql -qc 'CREATE DATABASE test'" 2>/dev/null || true
  fi
fi
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
if ! redis_up && command -v redis-server >/dev/null; then
  echo "== Redis not reachable on 127.0.0.1:6379; starting it"
  mkdir -p /tmp/gatehouse-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/gatehouse-redis --logfile /tmp/gatehouse-redis/redis.log >/dev/null 2>&1 || true
  for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
fi
if redis_up; then
  echo "== Redis reachable on 127.0.0.1:6379"
else
  echo "!! Redis is not reachable; Redis tests will skip (or fail with CI set)"
fi

if pg_up; then
  echo "== PostgreSQL reachable on 127.0.0.1:5432"
else
  echo "!! PostgreSQL is not reachable; PostgreSQL tests will skip (or fail with CI set)"
fi
