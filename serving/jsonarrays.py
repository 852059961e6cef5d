"""JSON number arrays read straight into numpy by simdjson (pysimdjson), for the scoring
bodies' rows and tensors.

orjson makes a Python float for every number, and numpy then converts those objects: for
100 rows of 30 features that is 61 + 55 us, and freeing the floats about 20 more, most of
a 100-row request's cost. simdjson parses the same body in about 32 us and copies an
array's numbers into a buffer of doubles in 5 us, without a Python object per value.

Callers use this only for the body they expect, and fall back on their full parse
(orjson, with errors that name the offending value) whenever anything here declines, so
what is accepted, and every error, stays theirs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import simdjson

Array = simdjson.Array
Object = simdjson.Object

# One parser per OS thread, by its native id. Not threading.local(): gunicorn's gevent
# worker monkey-patches threading, and a greenlet-local parser would be one per connection.
# Greenlets of one thread can share its parser: nothing inside parsed() yields to another
# (no I/O), so a parse and its views are over before any other greenlet runs.
_parsers: dict[int, Any] = {}


@contextmanager
def parsed(body: bytes) -> Iterator[Any]:
    """The parsed document (an Object, an Array or a scalar), or None if simdjson refuses
    the body: invalid JSON, an integer beyond 64 bits, a number beyond a double, nesting
    deeper than 1,024. Nothing read from it may outlive the block.

    One parser per OS thread, reused: a new parser's first parse of a 24 KB body costs 86 us
    (its buffers are allocated and faulted in) against 36 us again. simdjson refuses to
    parse while views of its last document live (an exception's traceback can keep
    them): the thread then gets a new parser.
    """
    parser = _parsers.get(threading.get_native_id()) or _new_parser()
    try:
        doc = parser.parse(body)
    except RuntimeError as e:  # its other refusals are ValueError, or RuntimeError too
        doc = _parse_or_none(_new_parser(), body) if "re-use a parser" in str(e) else None
    except Exception:  # malformed JSON, numbers or UTF-8: simdjson's error kinds vary
        doc = None
    try:
        yield doc
    finally:
        del doc


def floats(array: Any) -> np.ndarray | None:
    """Every number in `array`, nested arrays flattened in row-major order, as float64;
    None if any element is not a number (a string, boolean, null or object)."""
    try:
        return np.frombuffer(array.as_buffer(of_type="d"), dtype=np.float64)
    except Exception:  # INCORRECT_TYPE is a TypeError; let no other kind escape either
        return None


def _new_parser() -> Any:
    parser = _parsers[threading.get_native_id()] = simdjson.Parser()
    return parser


def _parse_or_none(parser: Any, body: bytes) -> Any:
    try:
        return parser.parse(body)
    except Exception:  # as in parsed()
        return None
