#!/usr/bin/env bash
# Sets up and runs what certgate does today on a fresh machine: builds it, creates a demo CA
# and a demo user certificate (UPN + e-mail in the SAN, as certgate's own CA will issue them),
# and validates the user's certificate with `certgate verify --explain`, then shows the
# identity fields (certificateUserIds) as JSON. Files go to ./demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p certgate
bin=target/release/certgate
dir=demo
mkdir -p "$dir"
upn="alice@contoso.example"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/root.key" -out "$dir/root.pem" -days 3650 \
  -subj "/DC=example/DC=contoso/CN=Contoso Demo Root CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$dir/issuing.key" -out "$dir/issuing.csr" \
  -subj "/DC=example/DC=contoso/CN=Contoso Demo Issuing CA" 2>/dev/null
openssl x509 -req -in "$dir/issuing.csr" -CA "$dir/root.pem" -CAkey "$dir/root.key" -CAcreateserial \
  -out "$dir/issuing.pem" -days 1825 -extfile <(printf '%s\n' \
    "basicConstraints=critical,CA:TRUE,pathlen:0" "keyUsage=critical,keyCertSign,cRLSign" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid") 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$dir/alice.key" -out "$dir/alice.csr" \
  -subj "/DC=example/DC=contoso/OU=Users/CN=Alice Demo" 2>/dev/null
openssl x509 -req -in "$dir/alice.csr" -CA "$dir/issuing.pem" -CAkey "$dir/issuing.key" -CAcreateserial \
  -out "$dir/alice.pem" -days 365 -extfile <(printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth" \
    "subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:$upn,email:$upn" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid") 2>/dev/null

echo "== certgate verify --explain (demo user $upn)"
"$bin" verify --trust "$dir/root.pem" --untrusted "$dir/issuing.pem" --explain "$dir/alice.pem"
echo
echo "== identity fields (certgate verify --json)"
"$bin" verify --trust "$dir/root.pem" --untrusted "$dir/issuing.pem" --json "$dir/alice.pem"
