"""Every TLS socket the tests open remembers where it was opened, so that an
"unclosed <ssl.SSLSocket ...>" ResourceWarning names its holder instead of only a file
descriptor, and the run ends by listing any TLS socket still open (tests/conftest.py).

The one holder found so far is CPython 3.11.7's own `SSLSocket._create`: when the server
resets the connection between its accept and the handshake (the Kubernetes API server or
Azurite stopping under the restart and outage tests), the `recv(1)` that checks for data
sent before the handshake raises ECONNRESET, and `_create` re-raises without closing the
socket it made (python/cpython#113280, fixed in later releases). The traced class closes
it there as that fix does; any other unclosed TLS socket fails the run (pyproject.toml's
filterwarnings = error).

The warning text is repr(socket); tracemalloc could give the allocation site too, but
it slows the whole suite several times over, and this costs one short stack walk per
TLS connection (a few hundred in a full run)."""

from __future__ import annotations

import gc
import ssl
import threading
import traceback
import weakref

_FRAMES = 14
_OPENED: weakref.WeakSet[TracedSSLSocket] = weakref.WeakSet()
_MADE = threading.local()  # the socket the current thread's _create made last


class TracedSSLSocket(ssl.SSLSocket):
    _liveline_origin = "?"

    def __new__(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        """SSLSocket._create makes every TLS socket through this, before it connects or
        shakes hands: a socket that _create itself leaves behind when it raises (an
        unexpected errno from getpeername, an interrupt in the handshake) is traced too."""
        sock = super().__new__(cls, *args, **kwargs)
        sock._liveline_origin = _origin()
        _OPENED.add(sock)
        _MADE.sock = sock
        return sock

    @classmethod
    def _create(cls, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        """CPython's _create, closing the socket it made when it raises (see above)."""
        _MADE.sock = None
        try:
            return super()._create(*args, **kwargs)
        except BaseException:
            made, _MADE.sock = _MADE.sock, None
            if made is not None:
                made.close()
            raise

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]} opened at {self._liveline_origin}>"


def _origin() -> str:
    stack = traceback.extract_stack()[:-2]  # drop _origin and __new__
    return " <- ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}"
                       for f in reversed(stack[-_FRAMES:]))  # fmt: skip


def install() -> None:
    ssl.SSLContext.sslsocket_class = TracedSSLSocket


def still_open() -> list[str]:
    """The TLS sockets opened during the run and neither closed nor collected yet: at the
    end of a run, after every fixture closed its clients, each is a leak."""
    gc.collect()
    return [repr(s) for s in list(_OPENED) if s.fileno() != -1]
