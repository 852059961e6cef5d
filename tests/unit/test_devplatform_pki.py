"""The real node's client certificates (devplatform.k8s_node_pki), signed by a throwaway
CA made here the way kwokctl makes the cluster's: what `openssl req` + `openssl x509`
made before (subject, key usages, P-256 key, a year, mode 0600 key)."""

from __future__ import annotations

import datetime
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devplatform import k8s_cluster, k8s_node_pki
from devplatform.k8s_node_config import NodeLayout
from devplatform.layout import Layout
from devplatform.processes import PlatformError
from liveline.settings import Settings

KUBELET = ("kubelet", "system:node:liveline-node", "system:nodes")
OPENSSL = shutil.which("openssl")


@pytest.fixture(autouse=True)
def openssl_present() -> None:
    # The cross-checks need openssl (Debian's, on every machine of this kind): fail, never skip.
    assert OPENSSL, "openssl is not installed: apt-get install -y openssl"


def make_ca(ca_dir: Path, name: str = "kwok-ca") -> x509.Certificate:
    """An RSA CA like kwokctl's (CA:TRUE, keyCertSign, a subject key identifier)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    usage = x509.KeyUsage(True, False, True, False, False, True, False, False, False)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(usage, critical=True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    ca_dir.mkdir(parents=True, exist_ok=True)
    (ca_dir / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (ca_dir / "ca.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert


@pytest.fixture
def node(tmp_path) -> NodeLayout:
    n = NodeLayout(Layout(Settings(state_dir=tmp_path / "state")))
    n.pki.mkdir(parents=True)
    return n


def ca_dir(n: NodeLayout) -> Path:
    return k8s_cluster.pki_dir(n.layout)


def leaf(n: NodeLayout, user: str = "kubelet") -> x509.Certificate:
    return x509.load_pem_x509_certificate((n.pki / f"{user}.crt").read_bytes())


def test_client_certificate_as_openssl_made_it(node):
    ca = make_ca(ca_dir(node))
    assert k8s_node_pki.client_credentials(node, *KUBELET) is True
    cert = leaf(node)
    cert.verify_directly_issued_by(ca)  # raises unless the CA signed it
    assert cert.issuer == ca.subject
    assert cert.subject.rfc4514_string() == "CN=system:node:liveline-node,O=system:nodes"
    assert [a.oid for a in cert.subject] == [NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME]
    assert cert.version == x509.Version.v3
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=365)
    assert cert.not_valid_before_utc <= datetime.datetime.now(datetime.UTC)
    assert cert.signature_hash_algorithm.name == "sha256"
    assert 0 < cert.serial_number < 1 << 160
    ext = cert.extensions
    usage = ext.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert not (usage.value.key_encipherment or usage.value.key_cert_sign)
    eku = ext.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.CLIENT_AUTH]  # client auth only, as before
    with pytest.raises(x509.ExtensionNotFound):  # no SANs, as before
        ext.get_extension_for_class(x509.SubjectAlternativeName)
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    assert ext.get_extension_for_class(x509.SubjectKeyIdentifier).value == (
        x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    )
    key_file = node.pki / "kubelet.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert key.public_key() == cert.public_key()


def test_openssl_verifies_it(node):
    make_ca(ca_dir(node))
    k8s_node_pki.client_credentials(node, "kube-proxy", "system:kube-proxy", "system:node-proxier")
    out = subprocess.run(
        [OPENSSL, "verify", "-CAfile", str(ca_dir(node) / "ca.crt"), "-purpose", "sslclient",
         str(node.pki / "kube-proxy.crt")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr


def test_kept_while_the_ca_signs_it_renewed_for_a_new_ca(node):
    make_ca(ca_dir(node))
    assert k8s_node_pki.client_credentials(node, *KUBELET) is True
    first = leaf(node)
    assert k8s_node_pki.client_credentials(node, *KUBELET) is False
    assert leaf(node) == first
    new_ca = make_ca(ca_dir(node))  # the cluster was created again
    assert not k8s_node_pki.signed_by_ca(node.pki / "kubelet.crt", ca_dir(node) / "ca.crt")
    assert k8s_node_pki.client_credentials(node, *KUBELET) is True
    leaf(node).verify_directly_issued_by(new_ca)
    assert k8s_node_pki.signed_by_ca(node.pki / "kubelet.crt", ca_dir(node) / "ca.crt")


def test_expired_or_unreadable_certificate_is_renewed(node):
    make_ca(ca_dir(node))
    crt = node.pki / "kubelet.crt"
    assert not k8s_node_pki.signed_by_ca(crt, ca_dir(node) / "ca.crt")  # missing
    crt.write_text("not a certificate")
    assert not k8s_node_pki.signed_by_ca(crt, ca_dir(node) / "ca.crt")
    ca_key = serialization.load_pem_private_key((ca_dir(node) / "ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate((ca_dir(node) / "ca.crt").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=400)
    expired = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(past)
        .not_valid_after(past + datetime.timedelta(days=365))
        .sign(ca_key, hashes.SHA256())
    )
    crt.write_bytes(expired.public_bytes(serialization.Encoding.PEM))
    assert not k8s_node_pki.signed_by_ca(crt, ca_dir(node) / "ca.crt")
    assert k8s_node_pki.client_credentials(node, *KUBELET) is True


def test_key_file_mode_is_fixed(node):
    make_ca(ca_dir(node))
    key_file = node.pki / "kubelet.key"
    key_file.write_text("old")
    key_file.chmod(0o644)
    k8s_node_pki.client_credentials(node, *KUBELET)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_kubeconfig_uses_the_certificate(node):
    make_ca(ca_dir(node))
    k8s_node_pki.client_credentials(node, *KUBELET)
    doc = yaml.safe_load((node.pki / "kubelet.kubeconfig").read_text())
    assert doc["users"][0]["user"] == {
        "client-certificate": str(node.pki / "kubelet.crt"),
        "client-key": str(node.pki / "kubelet.key"),
    }
    assert doc["clusters"][0]["cluster"]["certificate-authority"] == f"{ca_dir(node)}/ca.crt"


def test_ca_with_serial_zero_like_kwokctl(node):
    """kwokctl's CA has serial number 0: cryptography warns on it (an error under this
    suite's filterwarnings), so the module must load it quietly."""
    d = ca_dir(node)
    d.mkdir(parents=True)
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "ca.key"),
         "-out", str(d / "ca.crt"), "-subj", "/CN=kwok-ca", "-days", "30", "-set_serial", "0",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign"],
        capture_output=True, check=True,
    )  # fmt: skip
    assert k8s_node_pki.client_credentials(node, *KUBELET) is True
    assert k8s_node_pki.client_credentials(node, *KUBELET) is False


def test_missing_ca_is_a_platform_error(node):
    with pytest.raises(PlatformError, match="cannot read the cluster's CA"):
        k8s_node_pki.client_credentials(node, *KUBELET)
