"""The real node's client certificates, signed by the cluster's CA (cryptography).

kwokctl's pki (ca.crt, ca.key) signs a certificate for the kubelet (system:node:<node>
in system:nodes: the Node authorizer's identity) and one for kube-proxy
(system:kube-proxy, bound to system:node-proxier by the default RBAC), each with a
kubeconfig. They are made again when the cluster (and so its CA) was recreated.

The certificates are what `openssl req -newkey ec` + `openssl x509 -req` made before: a
P-256 key (PKCS#8 PEM, mode 0600), subject O=<group>, CN=<name>, a random 159-bit serial,
valid from now for CERT_DAYS, keyUsage critical digitalSignature, extendedKeyUsage
clientAuth, subject and authority key identifiers, SHA-256 signature; no SANs.
"""

from __future__ import annotations

import datetime
import os
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devplatform import k8s_cluster, processes, serialize
from devplatform.k8s_node_config import NAME, NodeLayout

CERT_DAYS = 365
# The CA key types that sign certificates (kwokctl's is RSA).
CAKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | dsa.DSAPrivateKey
)
_KEY_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
    encipher_only=False, decipher_only=False,
)  # fmt: skip


def _load_cert(path: Path) -> x509.Certificate:
    with warnings.catch_warnings():
        # kwokctl's CA has serial number 0, which RFC 5280 disallows: cryptography warns.
        warnings.filterwarnings("ignore", "Parsed a serial number", CryptographyDeprecationWarning)
        return x509.load_pem_x509_certificate(path.read_bytes())


def _ca(ca_dir: Path) -> tuple[x509.Certificate, CAKey]:
    try:
        cert = _load_cert(ca_dir / "ca.crt")
        key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), None)
    except (OSError, ValueError, TypeError) as e:
        raise processes.PlatformError(
            f"{NAME}: cannot read the cluster's CA in {ca_dir}: {e}"
        ) from e
    if not isinstance(key, CAKey):
        raise processes.PlatformError(f"{NAME}: {ca_dir}/ca.key cannot sign certificates")
    return cert, key


def signed_by_ca(cert: Path, ca: Path) -> bool:
    """cert is a certificate that ca signed, valid now (what `openssl verify` checked)."""
    if not cert.is_file():
        return False
    try:
        leaf, issuer = _load_cert(cert), _load_cert(ca)
        leaf.verify_directly_issued_by(issuer)
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    now = datetime.datetime.now(datetime.UTC)
    return leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc


def _authority_key_id(ca: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key())  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def issue(ca_dir: Path, crt: Path, key_file: Path, common_name: str, group: str) -> None:
    """A new key and client certificate (O=group, CN=common_name) signed by the CA."""
    ca_cert, ca_key = _ca(ca_dir)
    key = ec.generate_private_key(ec.SECP256R1())  # milliseconds; an RSA key up to a second
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, group),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])  # fmt: skip
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(_KEY_USAGE, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_id(ca_cert), critical=False)
    )
    # Ed25519/Ed448 keys sign without a separate hash; RSA and EC CAs with SHA-256.
    eddsa = isinstance(ca_key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
    signed = cert.sign(ca_key, None if eddsa else hashes.SHA256())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)  # an existing file keeps its mode otherwise
        out.write(pem)
    crt.write_bytes(signed.public_bytes(serialization.Encoding.PEM))


def kubeconfig(n: NodeLayout, user: str, crt: Path, key: Path) -> dict:
    cluster = {
        "server": n.apiserver,
        "certificate-authority": f"{k8s_cluster.pki_dir(n.layout)}/ca.crt",
    }
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": k8s_cluster.CLUSTER, "cluster": cluster}],
        "users": [{"name": user, "user": {"client-certificate": str(crt), "client-key": str(key)}}],
        "contexts": [{"name": user, "context": {"cluster": k8s_cluster.CLUSTER, "user": user}}],
        "current-context": user,
    }


def client_credentials(n: NodeLayout, user: str, common_name: str, group: str) -> bool:
    """A client certificate signed by the cluster's CA, and a kubeconfig using it; True
    when the certificate is new (a process using the old one must be restarted)."""
    ca = k8s_cluster.pki_dir(n.layout)
    crt, key = n.pki / f"{user}.crt", n.pki / f"{user}.key"
    renewed = not signed_by_ca(crt, ca / "ca.crt")
    if renewed:
        issue(ca, crt, key, common_name, group)
    serialize.write(n.pki / f"{user}.kubeconfig", kubeconfig(n, user, crt, key))
    return renewed
