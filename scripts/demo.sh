#!/usr/bin/env bash
# Sets up and runs certgate on its embedded default: SQLite in ./demo/data, certgate's own demo
# CA (root + issuing, keys sealed with a demo passphrase) trusted with its CRL URLs, a demo user
# with a PKCS#12, and a second user who is revoked. Then the whole loop, with the server
# publishing the CRLs over HTTP: refresh, verify (valid), revoke, publish, refresh, verify
# (revoked, with the reason). Finally `certgate serve --demo` keeps running (Ctrl-C stops it):
# the certificate sign-in listener, OpenID Connect, and a demo application at
# https://localhost:9443/demo to sign in to with the demo user's PKCS#12 and TOTP key.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p certgate
bin="$PWD/target/release/certgate"
if [ -n "${CARGO_TARGET_DIR:-}" ]; then bin="$CARGO_TARGET_DIR/release/certgate"; fi

demo="$PWD/demo"
rm -rf "$demo"
mkdir -p "$demo"
export CERTGATE_DATA_DIR="$demo/data"
export CERTGATE_DATABASE_URL="sqlite://$demo/data/certgate.db"
export CERTGATE_LISTEN="${CERTGATE_LISTEN:-127.0.0.1:8080}"
# A demo passphrase; in production put a real one in the environment or certgate.toml.
export CERTGATE_CA_KEY_PASSPHRASE="${CERTGATE_CA_KEY_PASSPHRASE:-demo-only-passphrase}"
user="alice@contoso.example"

step() { printf '\n== %s\n' "$*"; }

step "certgate pki init --trust (the demo CA, trusted with its own CRL URLs)"
"$bin" pki init --organization Contoso --trust

step "certgate user add (the directory: two users)"
"$bin" user add "$user" --display-name "Alice Demo" --mail "$user"
"$bin" user add mallory@contoso.example --display-name "Mallory Demo" --mail mallory@contoso.example

step "certgate pki issue (the demo user, and a second user to revoke)"
"$bin" pki issue --upn "$user" --email "$user" --name "Alice Demo" --out "$demo/users" --p12-password demo
"$bin" pki issue --upn mallory@contoso.example --email mallory@contoso.example --out "$demo/users" --p12-password demo

step "certgate serve (publishes the CRLs at the URLs in the certificates)"
if curl -fsS "http://$CERTGATE_LISTEN/healthz" >/dev/null 2>&1; then
  echo "demo: something already answers on $CERTGATE_LISTEN; stop it or set CERTGATE_LISTEN=127.0.0.1:PORT" >&2
  exit 1
fi
"$bin" serve > "$demo/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fsS "http://$CERTGATE_LISTEN/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$demo/serve.log" >&2; echo "demo: certgate serve exited" >&2; exit 1; }
  sleep 0.1
done

step "certgate crl refresh; certgate verify --store (valid)"
"$bin" crl refresh
"$bin" verify --store --explain --untrusted "$demo/users/$user-chain.pem" "$demo/users/$user.pem"

step "certgate pki revoke; certgate pki crl; certgate crl refresh"
serial=$("$bin" pki list --json | python3 -c 'import json,sys; print([c["serial"] for c in json.load(sys.stdin) if c["upn"].startswith("mallory")][0])')
"$bin" pki revoke --serial "$serial" --reason keyCompromise
"$bin" pki crl
"$bin" crl refresh

step "certgate verify --store (the revoked user is refused, with the reason; exit 1 expected)"
if "$bin" verify --store --untrusted "$demo/users/mallory@contoso.example-chain.pem" "$demo/users/mallory@contoso.example.pem"; then
  echo "demo: a revoked certificate was accepted" >&2
  exit 1
fi

step "certgate crl status"
"$bin" crl status

kill $server 2>/dev/null || true
wait $server 2>/dev/null || true
trap - EXIT
cat <<INFO

The demo user's certificate: $demo/users/$user.pem (PKCS#12: $demo/users/$user.p12, password "demo")
Try:  CERTGATE_DATA_DIR=$demo/data $bin ca list     (and: crl status, pki list, audit)

INFO
# CI checks the demo without leaving a server behind.
if [ -n "${CERTGATE_DEMO_NO_SERVE:-}" ]; then exit 0; fi
echo "Starting certgate serve --demo (Ctrl-C stops it)."
exec "$bin" serve --demo
