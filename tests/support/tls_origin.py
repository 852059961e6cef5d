"""Every TLS socket the tests open remembers where it was opened, so that an
"unclosed <ssl.SSLSocket ...>" ResourceWarning names its holder instead of only a file
descriptor, and the run ends by listing any TLS socket still open (tests/conftest.py).

The warning text is repr(socket); tracemalloc could give the allocation site too, but
it slows the whole suite several times over, and this costs one short stack walk per
TLS connection (a few hundred in a full run)."""

from __future__ import annotations

import gc
import ssl
import traceback
import weakref

_FRAMES = 14
_OPENED: weakref.WeakSet[TracedSSLSocket] = weakref.WeakSet()


class TracedSSLSocket(ssl.SSLSocket):
    _liveline_origin = "?"

    def __new__(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        """SSLSocket._create makes every TLS socket through this, before it connects or
        shakes hands: a socket that _create itself leaves behind when it raises (an
        unexpected errno from getpeername, an interrupt in the handshake) is traced too."""
        sock = super().__new__(cls, *args, **kwargs)
        sock._liveline_origin = _origin()
        _OPENED.add(sock)
        return sock

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
