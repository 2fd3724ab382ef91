"""Who may join a sweep's Dask cluster: certificates for a small lab, and which addresses are allowed.

Dask's plain ``tcp://`` has no authentication and no encryption. Whoever reaches the scheduler's
port can submit functions that workers run, replace the sweep's point function, or send the
``lrcourse sweep`` process a pickled result that runs code when it is read. So a sweep on another
machine's scheduler goes over ``tls://``, where the scheduler, every worker and the client each
prove they hold a certificate signed by the lab's own authority, and each connection is
encrypted; a party without one is refused before it can send anything.

* :func:`make_certificates` writes that authority and one certificate for the lab
  (``lrcourse certs``): copy the folder to every machine of the cluster. Keep ``ca-key.pem``
  private: whoever has it can admit anyone.
* :func:`security` reads the folder back as a Dask ``Security`` object.
* :func:`check_address` refuses ``tcp://`` to any host but this one unless ``insecure`` is set.
"""

import datetime
import ipaddress
import os

from lrcourse import paths

FILES = {"ca": "ca.pem", "ca_key": "ca-key.pem", "cert": "cluster.pem", "key": "cluster-key.pem"}
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def make_certificates(folder, hosts=("localhost",), days=365):
    """Write a certificate authority and one certificate it signs, for the scheduler, the workers and
    the client alike (a small lab trusts every machine it owns the same): ``ca.pem``, ``ca-key.pem``
    (private), ``cluster.pem`` and ``cluster-key.pem`` (private, shared by the cluster's machines).
    ``hosts`` are the names and addresses the scheduler is reached by. Returns the folder."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = paths.writable_folder(folder, "--output")
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lrcourse lab authority")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now)
          .not_valid_after(now + datetime.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    names = [x509.IPAddress(ipaddress.ip_address(host)) if _is_ip(host) else x509.DNSName(host) for host in hosts]
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lrcourse")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    private = dict(encoding=pem, format=serialization.PrivateFormat.PKCS8,
                   encryption_algorithm=serialization.NoEncryption())
    for name, content in ((FILES["ca"], ca.public_bytes(pem)), (FILES["cert"], cert.public_bytes(pem)),
                          (FILES["ca_key"], ca_key.private_bytes(**private)), (FILES["key"], key.private_bytes(**private))):
        path = paths.write_atomically(folder / name, content)
        os.chmod(path, 0o600 if "key" in name else 0o644)
    return folder


def _is_ip(host):
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def security(folder):
    """Dask's ``Security`` from a folder :func:`make_certificates` wrote: every connection
    encrypted, and each side required to show a certificate the lab's authority signed."""
    from distributed.security import Security

    folder = paths.resolve(folder)
    missing = [name for key, name in FILES.items() if key != "ca_key" and not (folder / name).is_file()]
    if missing:
        raise ValueError(f"--certificates {paths.display(folder)} lacks {', '.join(missing)}: create them with "
                         f"`lrcourse certs --output {paths.display(folder)}`")
    ca, cert, key = (str(folder / FILES[name]) for name in ("ca", "cert", "key"))
    return Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, tls_scheduler_cert=cert,
                    tls_scheduler_key=key, tls_worker_cert=cert, tls_worker_key=key, require_encryption=True)


def check_address(address, certificates=None, insecure=False):
    """Refuse, in one line, a scheduler address the sweep must not use: ``tls://`` without
    certificates, or plain ``tcp://`` to another machine unless ``insecure`` (anyone who reaches
    that port could run code in this process). ``tcp://`` to this machine is fine: only its own
    users reach it."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    try:
        protocol, location = parse_address(address)
        host, _ = parse_host_port(location)
    except ValueError as error:
        raise ValueError(f"--scheduler {address!r} is not a Dask scheduler's address ({error}): give one such as "
                         f"tls://HOST:8786") from None
    if protocol == "tls" and certificates is None:
        raise ValueError(f"--scheduler {address} is TLS: give --certificates FOLDER (made by `lrcourse certs`)")
    if protocol == "tcp" and host not in LOCAL_HOSTS and not insecure:
        raise ValueError(f"--scheduler {address} is plain tcp:// to another machine, where anyone who reaches the "
                         f"port could run code in this process: use tls:// with --certificates (see `lrcourse certs`), "
                         f"or pass --insecure on a network you trust")
    if protocol not in ("tcp", "tls", "inproc"):
        raise ValueError(f"--scheduler {address}: protocol {protocol!r} is not supported; use tls:// or tcp://")
