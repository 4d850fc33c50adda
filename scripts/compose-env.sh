#!/bin/sh
# Writes docker/.env with fresh secrets for the compose set-up (docker/compose.yaml):
# the master key every replica shares, the PostgreSQL and Redis passwords and the
# Grafana admin password. An existing file is kept (the master key must not change
# under a store that holds data sealed with it: back docker/.env up).
set -eu
env=${1:-$(dirname "$0")/../docker/.env}
if [ -e "$env" ]; then
	echo "compose-env: $env exists; kept"
	exit 0
fi
umask 077
{
	echo "GATEHOUSE_MASTER_KEY=v1:$(openssl rand -base64 32)"
	echo "POSTGRES_PASSWORD=$(openssl rand -hex 24)"
	echo "REDIS_PASSWORD=$(openssl rand -hex 24)"
	echo "GRAFANA_ADMIN_PASSWORD=$(openssl rand -hex 12)"
	echo "GATEHOUSE_BASE_URL=http://localhost:8080"
} >"$env"
echo "compose-env: wrote $env (mode 0600)"
