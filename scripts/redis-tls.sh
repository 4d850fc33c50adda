#!/bin/sh
# Makes the TLS material for Redis in the compose set-up (docker/compose.yaml runs it
# in its redis-certs service; it also runs on any machine with openssl):
#   scripts/redis-tls.sh DIR [HOST...]
# DIR/ca/ca.crt     a throw-away CA (its key is deleted once the certificate is signed,
#                   so nothing else can ever be signed by it)
# DIR/redis.crt     Redis's certificate for HOST (default: redis, localhost, 127.0.0.1),
# DIR/redis.key     and its key (0600; KEY_OWNER=uid:gid chowns it, e.g. Redis's 999:999)
# Gateways trust the CA with SSL_CERT_DIR=DIR/ca (Go adds it to the system roots).
# Existing material is kept: running it again changes nothing.
set -eu
dir=${1:?usage: redis-tls.sh DIR [HOST...]}
shift
[ $# -gt 0 ] || set -- redis localhost 127.0.0.1
if [ -s "$dir/redis.crt" ] && [ -s "$dir/redis.key" ] && [ -s "$dir/ca/ca.crt" ]; then
	echo "redis-tls: $dir already has a CA and a certificate; kept"
	exit 0
fi
mkdir -p "$dir/ca"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
san=""
for h in "$@"; do
	case $h in
	*[!0-9.]*) san="$san,DNS:$h" ;;
	*) san="$san,IP:$h" ;;
	esac
done
san=${san#,}
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days 3650 \
	-subj "/CN=Gatehouse compose Redis CA" -keyout "$tmp/ca.key" -out "$tmp/ca.crt" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 \
	-subj "/CN=$1" -keyout "$tmp/redis.key" -out "$tmp/redis.csr" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n' "$san" >"$tmp/ext"
openssl x509 -req -in "$tmp/redis.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
	-days 825 -sha256 -extfile "$tmp/ext" -out "$tmp/redis.crt" 2>/dev/null
cp "$tmp/ca.crt" "$dir/ca/ca.crt"
cp "$tmp/redis.crt" "$dir/redis.crt"
cp "$tmp/redis.key" "$dir/redis.key"
chmod 0755 "$dir" "$dir/ca"
chmod 0644 "$dir/ca/ca.crt" "$dir/redis.crt"
chmod 0600 "$dir/redis.key"
if [ -n "${KEY_OWNER:-}" ]; then chown "$KEY_OWNER" "$dir/redis.key"; fi
echo "redis-tls: CA and certificate for $* written to $dir"
