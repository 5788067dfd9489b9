"""Who may read and who may change: a bearer token for every change, reads open on loopback.

The token is a file (`--token-file`, or one generated on first start into the user's config
folder, mode 0600, and printed once).  A change is then carried out as the user the service
runs as, with `render`'s ownership rules (render_frontend/jobactions.py)."""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import stat
from pathlib import Path

from starlette.requests import Request

from render_frontend.web.errors import ApiError
from render_frontend.web.settings import Settings, settings_of
from renderd.errors import RenderdError

TOKEN_NAME = "api-token"
MIN_TOKEN = 16
MAX_TOKEN = 4096


class TokenError(RenderdError):
    """The token file cannot be used (missing, empty, readable by everyone...)."""


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "renderd"


def default_token_file() -> Path:
    return config_dir() / TOKEN_NAME


def read_token(path: Path) -> str:
    """The token in `path`: one line of at least 16 characters, in a file others cannot read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise TokenError(f"cannot read the token file: {err.strerror}", path) from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise TokenError("the token file is not a regular file", path)
        if st.st_mode & stat.S_IROTH:
            raise TokenError(f"the token file is readable by everyone (chmod o-r {path})", path)
        raw = fh.read(MAX_TOKEN + 1)
    token = raw.decode("utf-8", errors="replace").strip()
    if len(token) < MIN_TOKEN or len(raw) > MAX_TOKEN or any(c.isspace() for c in token):
        raise TokenError(f"the token must be one word of {MIN_TOKEN} to {MAX_TOKEN} characters", path)
    return token


def token_from(path: Path | None) -> tuple[str, Path, bool]:
    """(token, its file, whether it was made now): `path` must exist; the default is made on first use."""
    if path is not None:
        return read_token(path), path, False
    path = default_token_file()
    try:
        return read_token(path), path, False
    except TokenError:
        if path.exists() or path.is_symlink():
            raise
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token, path, True


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def bearer_ok(request: Request, settings: Settings) -> bool | None:
    """True: the right token; False: a wrong one; None: none given."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode(), settings.token.encode())


def require_read(request: Request) -> None:
    """Reads: open to a loopback client that names a local host; else the token."""
    settings = settings_of(request)
    client = request.client.host if request.client else ""
    if is_loopback(client) and (is_loopback(_host_name(request)) or _host_name(request) in settings.local_hosts):
        return
    _require_token(request, settings)


def require_change(request: Request) -> None:
    """Every change needs the token, from anywhere."""
    _require_token(request, settings_of(request))


def _require_token(request: Request, settings: Settings) -> None:
    ok = bearer_ok(request, settings)
    if ok is None:
        raise ApiError(401, "this needs the API token: send it as `Authorization: Bearer TOKEN`")
    if not ok:
        raise ApiError(401, "wrong API token")

