"""Generating the local cluster's throwaway PKI: a CA, the apiserver's serving cert, SA keys.

Generated fresh for every cluster directory (EC P-256 keys: fast to make), so tests never share or
commit key material.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gitops_agent.localcluster.certs import ClusterPki

VALIDITY = datetime.timedelta(days=30)
API_SERVER_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
API_SERVER_IPS = ("127.0.0.1", "10.0.0.1")


def _private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> Path:
    path.write_bytes(data)
    if private:
        path.chmod(0o600)
    return path


def _certificate(
    subject: str,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Name | None,
    signing_key: ec.EllipticCurvePrivateKey,
    *,
    is_ca: bool,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if not is_ca:
        alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in API_SERVER_NAMES]
        alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in API_SERVER_IPS]
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def generate_pki(directory: Path) -> ClusterPki:
    """Write a CA, an apiserver serving cert signed by it, and a service-account key pair."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("gitops-agent-local-ca", ca_key.public_key(), None, ca_key, is_ca=True)
    serving_key = ec.generate_private_key(ec.SECP256R1())
    serving_cert = _certificate(
        "kube-apiserver", serving_key.public_key(), ca_cert.subject, ca_key, is_ca=False
    )
    sa_key = ec.generate_private_key(ec.SECP256R1())
    pem = serialization.Encoding.PEM
    return ClusterPki(
        ca_cert=_write(directory / "ca.crt", ca_cert.public_bytes(pem)),
        ca_key=_write(directory / "ca.key", _private_key_pem(ca_key), private=True),
        serving_cert=_write(directory / "apiserver.crt", serving_cert.public_bytes(pem)),
        serving_key=_write(directory / "apiserver.key", _private_key_pem(serving_key), private=True),
        service_account_key=_write(directory / "sa.key", _private_key_pem(sa_key), private=True),
        service_account_pub=_write(
            directory / "sa.pub",
            sa_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
        ),
    )
