"""The real node's client certificates, signed with openssl by the cluster's CA.

kwokctl's pki (ca.crt, ca.key) signs a certificate for the kubelet (system:node:<node>
in system:nodes: the Node authorizer's identity) and one for kube-proxy
(system:kube-proxy, bound to system:node-proxier by the default RBAC), each with a
kubeconfig. They are made again when the cluster (and so its CA) was recreated.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from devplatform import k8s_cluster, processes
from devplatform.k8s_node_config import NAME, NodeLayout

CERT_DAYS = 365


def _openssl(*args: str, cwd: Path) -> None:
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    if out.returncode != 0:
        raise processes.PlatformError(f"{NAME}: `openssl {args[0]}` failed: {out.stderr[-800:]}")


def _signed_by_ca(cert: Path, ca: Path) -> bool:
    if not cert.is_file():
        return False
    out = subprocess.run(["openssl", "verify", "-CAfile", str(ca), str(cert)],
                         capture_output=True, timeout=30, check=False)  # fmt: skip
    return out.returncode == 0


def client_credentials(n: NodeLayout, user: str, common_name: str, group: str) -> bool:
    """A client certificate signed by the cluster's CA, and a kubeconfig using it; True
    when the certificate is new (a process using the old one must be restarted)."""
    ca = k8s_cluster.pki_dir(n.layout)
    crt, key = n.pki / f"{user}.crt", n.pki / f"{user}.key"
    renewed = not _signed_by_ca(crt, ca / "ca.crt")
    if renewed:
        # EC keys: generating one takes milliseconds, an RSA key up to a second.
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", key.name, "-subj", f"/O={group}/CN={common_name}",
                 "-out", f"{user}.csr", cwd=n.pki)  # fmt: skip
        ext = n.pki / f"{user}.ext"
        ext.write_text("keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
        _openssl("x509", "-req", "-in", f"{user}.csr", "-CA", str(ca / "ca.crt"),
                 "-CAkey", str(ca / "ca.key"), "-CAcreateserial", "-CAserial", "ca.srl",
                 "-days", str(CERT_DAYS), "-extfile", ext.name, "-out", crt.name,
                 cwd=n.pki)  # fmt: skip
        (n.pki / f"{user}.csr").unlink()
        ext.unlink()
    kubeconfig = n.pki / f"{user}.kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: {k8s_cluster.CLUSTER}
  cluster: {{server: "{n.apiserver}", certificate-authority: "{ca}/ca.crt"}}
users:
- name: {user}
  user: {{client-certificate: "{crt}", client-key: "{key}"}}
contexts:
- name: {user}
  context: {{cluster: {k8s_cluster.CLUSTER}, user: {user}}}
current-context: {user}
""")
    return renewed
