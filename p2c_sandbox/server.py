"""One uvicorn server, two sockets: the Dataverse port and the F&O port.

A single process and event loop keeps start-up fast and shutdown simple; an ASGI dispatcher picks
the service by the local port the request arrived on. In front of each service sit, outermost
first: the fault middleware (with the `/_sandbox/*` control endpoints), then the token endpoints,
then the service's own Starlette app, built by `create_app(ctx)` in `p2c_sandbox.<service>.app`.

A service module may also define `fault_error_body(status) -> (headers, body_bytes)` and
`throttle_body(retry_after_s) -> (headers, body_bytes)` so injected errors and 429s carry that
service's own error shape; without them a generic JSON error is used. Until a service package
exists its port answers 404, so the two services can be built independently.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from .auth import DEMO_CLIENT_SECRET, TokenIssuer, token_routes
from .faults import FaultMiddleware, FaultState

SERVICES = ("dataverse", "finops")


@dataclass
class SandboxContext:
    """Everything a service app needs to know about the running sandbox."""

    data_dir: Path
    host: str = "127.0.0.1"
    dataverse_port: int = 8801
    finops_port: int = 8802
    scheme: str = "http"
    issuer: TokenIssuer = None  # type: ignore[assignment]  # set in __post_init__
    faults: dict[str, FaultState] = field(default_factory=dict)
    fault_seed: int | None = None
    initial_faults: dict = field(default_factory=dict)

    def __post_init__(self):
        self.data_dir = Path(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.issuer is None:
            self.issuer = TokenIssuer(self.data_dir)
        for name in SERVICES:
            self.faults.setdefault(name, FaultState(self.initial_faults, seed=self.fault_seed))

    @property
    def dataverse_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.dataverse_port}"

    @property
    def finops_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.finops_port}"

    def url(self, service: str) -> str:
        return self.dataverse_url if service == "dataverse" else self.finops_url

    def token_lifetimes(self) -> dict[str, float]:
        """Service URL -> current token lifetime (the faults endpoint may shorten it)."""
        return {self.url(s): self.faults[s].get("token_lifetime_s") for s in SERVICES}


def _error_json(status: int) -> tuple[dict, bytes]:
    return {"content-type": "application/json"}, json.dumps(
        {"error": {"code": "", "message": f"Injected sandbox fault (HTTP {status})."}}).encode()


def _load_service(name: str):
    """The service module's `create_app`, or None when that service is not built yet."""
    try:
        module = __import__(f"p2c_sandbox.{name}.app", fromlist=["create_app"])
    except ModuleNotFoundError as exc:
        if exc.name in (f"p2c_sandbox.{name}", f"p2c_sandbox.{name}.app"):
            return None
        raise
    return module


def build_service(name: str, ctx: SandboxContext) -> ASGIApp:
    """The full stack for one service: faults -> token endpoints -> the service app."""
    module = _load_service(name)
    if module is None:
        inner: ASGIApp = JSONResponse({"error": f"the {name} service is not available"}, 404)
        error_body, throttle_body = _error_json, lambda s: _error_json(429)
    else:
        inner = module.create_app(ctx)
        error_body = getattr(module, "fault_error_body", _error_json)
        throttle_body = getattr(module, "throttle_body", lambda s: _error_json(429))
    url = ctx.url(name)
    app = Starlette(routes=[*token_routes(ctx.issuer, ctx.token_lifetimes, lambda: url),
                            Mount("/", app=inner)])
    return FaultMiddleware(app, name, ctx.faults[name], error_body, throttle_body)


class PortDispatcher:
    """ASGI app routing each connection to the service that owns its local port."""

    def __init__(self, ctx: SandboxContext):
        self.by_port = {ctx.dataverse_port: build_service("dataverse", ctx),
                        ctx.finops_port: build_service("finops", ctx)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        app = self.by_port.get(scope["server"][1]) if scope.get("server") else None
        if app is None:
            return await Response("unknown port", 404)(scope, receive, send)
        await app(scope, receive, send)


def ensure_tls(data_dir: Path, host: str) -> tuple[Path, Path, Path]:
    """Create (once) a private CA and a server certificate for `host`, 127.0.0.1 and localhost.

    Returns (ca.pem, server.pem, server.key). Clients trust the sandbox with
    `REQUESTS_CA_BUNDLE=<data_dir>/ca.pem`.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_pem, cert_pem, key_pem = data_dir / "ca.pem", data_dir / "server.pem", data_dir / "server.key"
    if ca_pem.exists() and cert_pem.exists() and key_pem.exists():
        return ca_pem, cert_pem, key_pem
    now = dt.datetime.now(dt.timezone.utc)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "p2c-sandbox local CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    names: list[x509.GeneralName] = [x509.DNSName("localhost"),
                                     x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    try:
        if ipaddress.ip_address(host) != ipaddress.ip_address("127.0.0.1"):
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(server_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_pem.write_bytes(ca.public_bytes(pem))
    cert_pem.write_bytes(cert.public_bytes(pem) + ca.public_bytes(pem))
    key_pem.write_bytes(server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    key_pem.chmod(0o600)
    return ca_pem, cert_pem, key_pem


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit this: without it, keep-alive clients wait ~40 ms per response
    # (Nagle + delayed ACK) because uvicorn writes headers and body separately
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def serve(ctx: SandboxContext, tls: bool = False, log_level: str = "warning") -> None:
    """Run both services until SIGINT/SIGTERM (uvicorn handles the signals and drains requests)."""
    sockets = [_bind(ctx.host, ctx.dataverse_port), _bind(ctx.host, ctx.finops_port)]
    # port 0 means "any free port": learn the real ones before the apps build their URLs
    ctx.dataverse_port, ctx.finops_port = (s.getsockname()[1] for s in sockets)
    ssl = {}
    if tls:
        ctx.scheme = "https"
        ca, cert, key = ensure_tls(ctx.data_dir, ctx.host)
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    app = PortDispatcher(ctx)
    # idle keep-alive connections stay open for minutes, as behind Azure's load balancers (4 min);
    # uvicorn's 5 s default closes them just as a client that paused to poll sends on them again
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on",
                            timeout_graceful_shutdown=5, timeout_keep_alive=120, **ssl)
    server = uvicorn.Server(config)
    # uvicorn drains requests on SIGINT/SIGTERM, then re-raises the signal to the handler that was
    # installed before it: make that a plain, successful exit instead of a traceback or status -15.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_quietly)
    _announce(ctx, tls)
    asyncio.run(server.serve(sockets=sockets))


def _exit_quietly(signum, frame) -> None:
    raise SystemExit(0)


def _announce(ctx: SandboxContext, tls: bool) -> None:
    lines = [
        "p2c-sandbox is running",
        f"  Dataverse (Sales): {ctx.dataverse_url}/api/data/v9.2/",
        f"  Finance and Operations: {ctx.finops_url}/data/",
        f"  token URL: {ctx.dataverse_url}/{ctx.issuer.tenant}/oauth2/v2.0/token "
        f"(scope <service URL>/.default)",
        f"  tenant {ctx.issuer.tenant}, demo client id {ctx.issuer.client_id}, "
        f"demo client secret {DEMO_CLIENT_SECRET}",  # public by design, like Azurite's key
        f"  data: {ctx.data_dir}",
    ]
    if tls:
        lines.append(f"  TLS: export REQUESTS_CA_BUNDLE={ctx.data_dir / 'ca.pem'}")
    print("\n".join(lines), flush=True, file=sys.stdout)
