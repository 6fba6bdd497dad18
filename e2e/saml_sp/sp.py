#!/usr/bin/env python3
"""A SAML 2.0 service provider built with pysaml2, for certgate's browser tests.

    sp.py --port PORT --idp-metadata-url URL --ca-file ROOT.pem --key SP.key --cert SP.pem

It listens on http://127.0.0.1:PORT and serves:

  /metadata  its SP metadata (pysaml2's entity_descriptor: signed AuthnRequests, signed
             assertions wanted, the ACS at /acs by HTTP-POST, its signing certificate)
  /login     starts single sign-on with Saml2Client.prepare_for_authenticate: a signed
             AuthnRequest (rsa-sha256) by the HTTP-Redirect binding, or by HTTP-POST with
             ?binding=post; ?relay=VALUE sets the RelayState (else a random one)
  /acs       the assertion consumer service (HTTP-POST): parse_authn_request_response, which
             verifies the assertion's signature with the IdP's signing certificates from its
             metadata (xmlsec1), the audience, the recipient, the validity and InResponseTo;
             renders the NameID, its format and the attributes as JSON in <pre id="result">,
             or the exception in <pre id="error"> (status 400)
  /healthz   200 once the server listens

The IdP's metadata is fetched over HTTPS (verified with --ca-file) on the first /login, and
its own signature is checked with xmlsec1 against the certificate in its ds:KeyInfo, which
must be one of the signing certificates it publishes.
"""

import argparse
import base64
import html
import json
import os
import secrets
import sys
import tempfile
import threading
import traceback
import urllib.request
import ssl
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

DS = "{http://www.w3.org/2000/09/xmldsig#}"
MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idp-metadata-url", required=True)
    parser.add_argument("--ca-file", required=True, help="the CA that signed the IdP's TLS certificate")
    parser.add_argument("--key", required=True, help="the SP's private key (PEM), signs AuthnRequests")
    parser.add_argument("--cert", required=True, help="the SP's certificate (PEM), in its metadata")
    parser.add_argument("--name-id-format", default=NAMEID_FORMAT_EMAILADDRESS)
    parser.add_argument("--want-response-signed", action="store_true")
    parser.add_argument("--xmlsec1", default=os.environ.get("XMLSEC1", "/usr/bin/xmlsec1"))
    return parser.parse_args()


class ServiceProvider:
    def __init__(self, args):
        self.args = args
        self.base = f"http://127.0.0.1:{args.port}"
        self.entity_id = f"{self.base}/metadata"
        self.workdir = tempfile.mkdtemp(prefix="certgate-pysaml2-sp-")
        self.lock = threading.Lock()
        self.client = None
        self.idp_entity_id = None
        # Request ID → RelayState of the AuthnRequests sent and not answered yet
        # (InResponseTo is checked against these; unsolicited responses are refused).
        self.outstanding = {}

    def config(self, with_idp):
        settings = {
            "entityid": self.entity_id,
            "xmlsec_binary": self.args.xmlsec1,
            "key_file": self.args.key,
            "cert_file": self.args.cert,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "accepted_time_diff": 60,
            "allow_unknown_attributes": True,
            "ca_certs": self.args.ca_file,
            "service": {
                "sp": {
                    "name": "pysaml2 SP",
                    "endpoints": {
                        "assertion_consumer_service": [(f"{self.base}/acs", BINDING_HTTP_POST)],
                    },
                    "name_id_format": [self.args.name_id_format],
                    "name_id_policy_format": self.args.name_id_format,
                    "authn_requests_signed": True,
                    "want_assertions_signed": True,
                    "want_response_signed": self.args.want_response_signed,
                    "allow_unsolicited": False,
                },
            },
        }
        if with_idp:
            signer = self.fetch_idp_metadata()
            settings["metadata"] = {
                "remote": [{"url": self.args.idp_metadata_url, "cert": signer}],
            }
        config = SPConfig()
        config.load(settings)
        return config

    def fetch_idp_metadata(self):
        """Fetches the IdP metadata once to find the certificate its signature names; pysaml2
        fetches it again and verifies that signature with it (xmlsec1)."""
        context = ssl.create_default_context(cafile=self.args.ca_file)
        with urllib.request.urlopen(self.args.idp_metadata_url, context=context, timeout=10) as answer:
            document = ET.fromstring(answer.read())
        self.idp_entity_id = document.get("entityID")
        signature = document.find(f"{DS}Signature")
        if signature is None:
            raise RuntimeError("the IdP metadata is not signed")
        signer = "".join(signature.findtext(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate", "").split())
        published = {
            "".join((cert.text or "").split())
            for descriptor in document.iter(f"{MD}KeyDescriptor")
            if descriptor.get("use") in (None, "signing")
            for cert in descriptor.iter(f"{DS}X509Certificate")
        }
        if not signer or signer not in published:
            raise RuntimeError("the IdP metadata's signature names a certificate it does not publish")
        path = os.path.join(self.workdir, "idp-metadata-signer.pem")
        with open(path, "w") as pem:
            pem.write("-----BEGIN CERTIFICATE-----\n")
            for i in range(0, len(signer), 64):
                pem.write(signer[i : i + 64] + "\n")
            pem.write("-----END CERTIFICATE-----\n")
        return path

    def saml_client(self):
        with self.lock:
            if self.client is None:
                self.client = Saml2Client(config=self.config(with_idp=True))
            return self.client

    def metadata(self):
        return create_metadata_string(None, config=self.config(with_idp=False)).decode()


def page(title, body):
    return (
        f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
        f" – pysaml2 SP</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    ).encode()


class Handler(BaseHTTPRequestHandler):
    sp = None

    def log_message(self, format, *args):
        sys.stderr.write("pysaml2-sp: " + (format % args) + "\n")

    def send(self, status, body, content_type="text/html; charset=utf-8", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def failed(self, status, title, error):
        text = f"{type(error).__name__}: {error}"
        sys.stderr.write(f"pysaml2-sp: {title}: {text}\n{traceback.format_exc()}")
        self.send(status, page(title, f"<pre id=\"error\">{html.escape(text)}</pre>"))

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/healthz":
            return self.send(200, b"ok\n", "text/plain")
        if url.path == "/metadata":
            try:
                return self.send(200, self.sp.metadata().encode(), "application/samlmetadata+xml")
            except Exception as error:  # noqa: BLE001 - shown to the test
                return self.failed(500, "Metadata failed", error)
        if url.path == "/login":
            return self.login(query)
        if url.path == "/favicon.ico":
            return self.send(404, b"", "text/plain")
        return self.send(404, page("Not found", ""))

    def login(self, query):
        try:
            client = self.sp.saml_client()
            relay_state = query.get("relay") or secrets.token_urlsafe(12)
            binding = BINDING_HTTP_POST if query.get("binding") == "post" else BINDING_HTTP_REDIRECT
            request_id, info = client.prepare_for_authenticate(
                entityid=self.sp.idp_entity_id,
                relay_state=relay_state,
                binding=binding,
                sign=True,
                sigalg=SIG_RSA_SHA256,
                digest_alg=DIGEST_SHA256,
            )
            self.sp.outstanding[request_id] = relay_state
        except Exception as error:  # noqa: BLE001
            return self.failed(500, "Starting sign-in failed", error)
        if binding == BINDING_HTTP_REDIRECT:
            location = dict(info["headers"])["Location"]
            return self.send(303, b"", "text/plain", [("Location", location)])
        # HTTP-POST: pysaml2's auto-submitting form.
        return self.send(200, info["data"].encode())

    def do_POST(self):
        url = urlsplit(self.path)
        if url.path != "/acs":
            return self.send(404, page("Not found", ""))
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        try:
            if "SAMLResponse" not in form:
                raise ValueError("the POST has no SAMLResponse")
            client = self.sp.saml_client()
            response = client.parse_authn_request_response(
                form["SAMLResponse"], BINDING_HTTP_POST, outstanding=dict(self.sp.outstanding)
            )
            if response is None:
                raise ValueError("pysaml2 returned no response")
            assertion = response.assertion
            if assertion is None or assertion.signature is None:
                raise ValueError("the assertion is not signed")
            name_id = response.name_id
            raw_attributes = [
                {
                    "name": attribute.name,
                    "name_format": attribute.name_format,
                    "values": [value.text for value in attribute.attribute_value],
                }
                for statement in assertion.attribute_statement
                for attribute in statement.attribute
            ]
            authn = response.authn_info()
            result = {
                "issuer": response.issuer(),
                "name_id": name_id.text,
                "name_id_format": name_id.format,
                "attributes": response.get_identity(),
                "raw_attributes": raw_attributes,
                "in_response_to": response.in_response_to,
                # Kept (not removed) so that a test can send a changed copy of a response and
                # see it refused for its signature, not as unsolicited.
                "request_relay_state": self.sp.outstanding.get(response.in_response_to),
                "relay_state": form.get("RelayState"),
                "assertion_signed": True,
                "response_signed": response.response.signature is not None,
                "authn_context": [entry[0] for entry in authn],
                "audience": [
                    audience.text
                    for condition in [assertion.conditions]
                    for restriction in condition.audience_restriction
                    for audience in restriction.audience
                ],
                "session_index": response.session_info()["session_index"],
            }
        except Exception as error:  # noqa: BLE001
            decoded = ""
            try:
                decoded = base64.b64decode(form.get("SAMLResponse", "")).decode(errors="replace")
            except Exception:  # noqa: BLE001
                pass
            sys.stderr.write(f"pysaml2-sp: the response was:\n{decoded}\n")
            return self.failed(400, "Sign-in failed", error)
        body = f"<pre id=\"result\">{html.escape(json.dumps(result, indent=2, sort_keys=True))}</pre>"
        return self.send(200, page("Signed in", body))


def main():
    args = parse_args()
    Handler.sp = ServiceProvider(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    sys.stderr.write(f"pysaml2-sp: listening on http://127.0.0.1:{args.port}\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
