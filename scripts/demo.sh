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

# A second user, revoked, and CRLs from both CAs (openssl ca needs a small database each).
openssl req -newkey rsa:2048 -nodes -keyout "$dir/mallory.key" -out "$dir/mallory.csr" \
  -subj "/DC=example/DC=contoso/OU=Users/CN=Mallory Demo" 2>/dev/null
openssl x509 -req -in "$dir/mallory.csr" -CA "$dir/issuing.pem" -CAkey "$dir/issuing.key" -CAcreateserial \
  -out "$dir/mallory.pem" -days 365 -extfile <(printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth" \
    "subjectAltName=otherName:1.3.6.1.4.1.311.20.2.3;UTF8:mallory@contoso.example") 2>/dev/null
make_crl() { # <ca name> <revoked cert or empty>
  local ca=$1 revoked=${2:-} db="$dir/$1-db"
  rm -rf "$db" && mkdir -p "$db" && : > "$db/index.txt" && echo 1000 > "$db/crlnumber"
  cat > "$db/ca.cnf" <<CNF
[ca]
default_ca = demo
[demo]
database = $db/index.txt
crlnumber = $db/crlnumber
default_md = sha256
default_crl_days = 7
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid
CNF
  if [ -n "$revoked" ]; then
    openssl ca -config "$db/ca.cnf" -cert "$dir/$ca.pem" -keyfile "$dir/$ca.key" \
      -revoke "$revoked" -crl_reason keyCompromise 2>/dev/null
  fi
  openssl ca -config "$db/ca.cnf" -cert "$dir/$ca.pem" -keyfile "$dir/$ca.key" -gencrl \
    -out "$dir/$ca.crl" 2>/dev/null
}
make_crl root
make_crl issuing "$dir/mallory.pem"
crls=(--crl "$dir/root.crl" --crl "$dir/issuing.crl")

echo "== certgate verify --explain (demo user $upn)"
"$bin" verify --trust "$dir/root.pem" --untrusted "$dir/issuing.pem" "${crls[@]}" --explain "$dir/alice.pem"
echo
echo "== identity fields (certgate verify --json)"
"$bin" verify --trust "$dir/root.pem" --untrusted "$dir/issuing.pem" "${crls[@]}" --json "$dir/alice.pem"
echo
echo "== a revoked user is refused, with the reason (exit code 1 expected)"
if "$bin" verify --trust "$dir/root.pem" --untrusted "$dir/issuing.pem" "${crls[@]}" "$dir/mallory.pem"; then
  echo "demo: mallory's revoked certificate was accepted" >&2
  exit 1
fi
