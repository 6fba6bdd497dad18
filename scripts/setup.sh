#!/usr/bin/env bash
# Installs what certgate's build and tests need on a fresh Debian machine. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
python3 -c "import ensurepip" >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
command -v pk12util >/dev/null 2>&1 || need_apt+=(libnss3-tools)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v xmlsec1 >/dev/null 2>&1 || need_apt+=(xmlsec1)
command -v xmllint >/dev/null 2>&1 || need_apt+=(libxml2-utils)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
# Samba as the Active Directory domain controller of the LDAP directory-source tests
# (crates/certgate-ldap/tests), and ldapsearch to compare with what they read.
{ command -v samba && command -v samba-tool; } >/dev/null 2>&1 || need_apt+=(samba samba-ad-dc winbind)
command -v ldapsearch >/dev/null 2>&1 || need_apt+=(ldap-utils)
# OpenLDAP for the generic-profile tests (crates/certgate-ldap/tests/generic_ldap.rs). They run
# their own slapd (own config directory and port); the package's system instance is not used,
# and DEBIAN_FRONTEND=noninteractive below keeps its postinst from asking questions.
{ [ -x /usr/sbin/slapd ] && [ -x /usr/sbin/slapadd ]; } || need_apt+=(slapd)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo (Rust) is required: https://rustup.rs" >&2
  exit 1
fi

# NIST PKITS data for the conformance suite (certificates and CRLs, DER).
if ! python3 -c "import cryptography_vectors" >/dev/null 2>&1; then
  echo "setup: installing cryptography-vectors (NIST PKITS data) with pip"
  python3 -m pip install --quiet --disable-pip-version-check "cryptography-vectors==50.0.2" 2>&1 \
    | grep -v "Running pip as the 'root' user" || true
fi
python3 -c "import cryptography_vectors" || { echo "setup: cryptography-vectors did not install" >&2; exit 1; }

# pysaml2 for the SAML browser test's service provider (e2e/saml_sp), in a venv of its own;
# its signatures go through the xmlsec1 binary installed above.
venv="$HOME/.cache/certgate-venv"
if ! "$venv/bin/python" -c "import importlib.metadata as m; assert m.version('pysaml2') == '7.5.5'" >/dev/null 2>&1; then
  echo "setup: installing pysaml2 in $venv with pip"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pysaml2==7.5.5"
fi
"$venv/bin/python" -c "import saml2" || { echo "setup: pysaml2 did not install" >&2; exit 1; }

# playwright-core for the browser tests (it drives Debian's chromium; no browser download).
if [ ! -d e2e/node_modules/playwright-core ]; then
  echo "setup: installing the browser-test dependencies with npm"
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
