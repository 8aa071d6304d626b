"""The certificates `callbox twilio-proxy` answers Twilio's toolkit with.

Twilio's toolkit (twilio-run) only speaks HTTPS to ``serverless.twilio.com``; to hand its
requests to callbox, the proxy ends that TLS itself, with a certificate for the name asked for,
signed by a certificate authority of its own. Node.js trusts that authority only in the
processes started with ``NODE_EXTRA_CA_CERTS=<ca.pem>``, and the authority can vouch for
nothing but ``twilio.com`` names: it carries a critical Name Constraints extension, so even a
copy of its key cannot impersonate another site.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from callbox.toolkit.files import write_whole

PERMITTED = "twilio.com"
CA_DAYS = 3650
LEAF_DAYS = 30


@dataclass(frozen=True)
class Authority:
    cert_file: Path  # what NODE_EXTRA_CA_CERTS names
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def issue(self, host: str) -> tuple[bytes, bytes]:
        """A certificate (PEM, with the authority's after it) and its key (PEM) for ``host``."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        chain = cert.public_bytes(serialization.Encoding.PEM) + self.cert.public_bytes(
            serialization.Encoding.PEM
        )
        return chain, _pem_key(key)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_or_create(folder: Path) -> Authority:
    """The authority kept in ``folder`` (``ca.pem``, ``ca-key.pem`` readable only by its
    owner), created on first use."""
    cert_file, key_file = folder / "ca.pem", folder / "ca-key.pem"
    if cert_file.is_file() and key_file.is_file():
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return Authority(cert_file, cert, key)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"callbox twilio-proxy ({os.uname().nodename})")]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[x509.DNSName(PERMITTED)], excluded_subtrees=None
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_whole(key_file, _pem_key(key).decode(), private=True)
    write_whole(cert_file, cert.public_bytes(serialization.Encoding.PEM).decode())
    return Authority(cert_file, cert, key)
