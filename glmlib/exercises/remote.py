"""Calling a learner's function that lives in another process: the grading wire.

When a notebook is graded, the learner's code runs in a sandboxed process of
its own (``glmlib.exercises.learner``) and the checkers run in the grader's
process, which never executes a line of the learner's code. A checker gets a
``Remote`` in place of the learner's function: calling it sends the inputs
over a pipe, the learner's process runs the function and sends back its
result. Nothing the learner's code does can reach the checker's cases, its
expected values or its verdict: they are in another process.

Messages are length-prefixed ``torch.save`` payloads, read back with
``torch.load(weights_only=True)``, which never runs code: only tensors, numbers,
strings and containers cross. Anything else is replaced by a stand-in
that names its type (``Opaque``), a generator by its state, and a callable
argument (a module the checker passes, say) by a callback the learner's
process calls back through the same pipe.
"""
from __future__ import annotations

import builtins
import inspect
import io
import os
import select
import struct
import time
from typing import Any, Callable, Sequence

import torch

from .checking import Shortcut, ShortcutUsed, active_shortcuts

MAX_MESSAGE = 64 * 2**20  # bytes: a larger answer is refused, not read
_HEADER = struct.Struct("!Q")
_MARK = "__glm__"


class ProtocolError(Exception):
    """The other side sent something that is not a message."""


class LearnerGone(Exception):
    """The learner's process ended, or did not answer in time."""


class LearnerError(Exception):
    """An exception the learner's code raised whose type is not one of Python's built-ins."""


class Opaque:
    """A stand-in for a value that cannot cross the pipe (named after the learner's type)."""

    def __repr__(self) -> str:
        return f"<a {type(self).__name__} object>"


# ------------------------------------------------------------------ messages

def write_message(fd: int, message: Any) -> None:
    buffer = io.BytesIO()
    torch.save(message, buffer)
    data = buffer.getvalue()
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, left = [], n
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise LearnerGone("no answer in time")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise LearnerGone("the pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int, deadline: float | None = None) -> Any:
    """One message; ``deadline`` is a ``time.monotonic()`` time (``None``: wait for ever)."""
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if size > MAX_MESSAGE:
        raise ProtocolError(f"a message of {size} bytes (at most {MAX_MESSAGE} are read)")
    data = _read_exactly(fd, size, deadline)
    try:
        return torch.load(io.BytesIO(data), weights_only=True)
    except Exception as err:
        raise ProtocolError(f"an unreadable message ({type(err).__name__}: {err})") from err


# ------------------------------------------------------------------ values

def pack(value: Any, callbacks: list[Callable] | None = None) -> Any:
    """``value`` in the forms ``torch.load(weights_only=True)`` reads; callables become callbacks
    when ``callbacks`` is given (the grader's side), stand-ins otherwise."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str, bytes):
        return value
    if value is Ellipsis:
        return {_MARK: "ellipsis"}
    if kind is torch.Tensor or kind is torch.nn.Parameter:
        data = value.detach().cpu().clone()
        return {_MARK: "leaf", "tensor": data} if value.requires_grad else data
    if isinstance(value, torch.Generator):
        return {_MARK: "generator", "state": value.get_state()}
    if isinstance(value, torch.dtype):
        return {_MARK: "dtype", "name": str(value).removeprefix("torch.")}
    if kind in (list, tuple) or isinstance(value, torch.Size):
        packed = [pack(v, callbacks) for v in value]
        return {_MARK: "tuple", "items": packed} if isinstance(value, tuple) else packed
    if kind is dict and all(type(k) in (str, int) for k in value):
        return {k: pack(v, callbacks) for k, v in value.items()}
    module = getattr(kind, "__module__", "") or ""
    if module == "numpy" and hasattr(value, "item") and getattr(value, "shape", None) == ():
        return pack(value.item(), callbacks)
    if callbacks is not None and callable(value):
        callbacks.append(value)
        return {_MARK: "callback", "id": len(callbacks) - 1}
    return {_MARK: "opaque", "type": kind.__qualname__}


def unpack(value: Any, callback: Callable[[int], Callable] | None = None) -> Any:
    """The inverse of ``pack``; ``callback(id)`` builds the stand-in of a callback (learner's side)."""
    if isinstance(value, list):
        return [unpack(v, callback) for v in value]
    if not isinstance(value, dict):
        return value
    mark = value.get(_MARK)
    if mark is None:
        return {k: unpack(v, callback) for k, v in value.items()}
    if mark == "tuple":
        return tuple(unpack(v, callback) for v in value["items"])
    if mark == "ellipsis":
        return Ellipsis
    if mark == "leaf":
        return value["tensor"].requires_grad_(True)
    if mark == "generator":
        generator = torch.Generator()
        generator.set_state(value["state"])
        return generator
    if mark == "dtype" and isinstance(getattr(torch, str(value["name"]), None), torch.dtype):
        return getattr(torch, value["name"])
    if mark == "callback" and callback is not None:
        return callback(int(value["id"]))
    name = str(value.get("type", "object"))
    name = name if name.isidentifier() else "object"
    return type(name, (Opaque,), {})()


def exception(kind: str, message: str) -> BaseException:
    """The learner's exception, rebuilt: a built-in type as itself, any other as a ``LearnerError``."""
    builtin = getattr(builtins, kind, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        try:
            return builtin(message)
        except Exception:
            pass
    name = kind if kind.isidentifier() else "LearnerError"
    return type(name, (LearnerError,), {})(message)


def shortcut_specs(shortcuts: Sequence[Shortcut]) -> list[dict]:
    """What the learner's process needs to trap each shortcut (modules and classes, by name)."""
    specs = []
    for s in shortcuts:
        if inspect.ismodule(s.owner):
            owner = {"module": s.owner.__name__, "path": ""}
        elif isinstance(s.owner, type):
            owner = {"module": s.owner.__module__, "path": s.owner.__qualname__}
        else:  # a learner's alias: the learner's process finds its own aliases
            continue
        specs.append({**owner, "attribute": s.attribute, "label": s.label})
    return specs


# ------------------------------------------------------------------ the grader's side

class Remote:
    """Stands for a learner's function: calling it runs the function in the learner's process."""

    def __init__(self, session: "Session", name: str, source: str = "") -> None:
        self.session, self.__name__, self.learner_source = session, name, source

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.session.call(self.__name__, args, kwargs)

    def __repr__(self) -> str:
        return f"<the learner's {self.__name__}>"


class Session:
    """The grader's end of the pipe to one learner process."""

    def __init__(self, to_learner: int, from_learner: int, call_timeout: float = 60.0) -> None:
        self.to_learner, self.from_learner = to_learner, from_learner
        self.call_timeout = call_timeout
        self.events: list[dict] = []  # what the learner's process noticed during calls (tampering, ...)
        self.shortcuts: list[str] = []  # the forbidden functions its code called

    def request(self, message: dict, timeout: float | None = None) -> dict:
        write_message(self.to_learner, message)
        return self.answer(timeout)

    def answer(self, timeout: float | None = None) -> dict:
        deadline = time.monotonic() + (self.call_timeout if timeout is None else timeout)
        reply = read_message(self.from_learner, deadline)
        if not isinstance(reply, dict) or not isinstance(reply.get("kind"), str):
            raise ProtocolError("a reply that is not a message of the learner's process")
        events = reply.get("events")
        if isinstance(events, list):
            self.events += [e for e in events if isinstance(e, dict)]
        return reply

    def call(self, name: str, args: tuple, kwargs: dict) -> Any:
        callbacks: list[Callable] = []
        packed_args = pack(tuple(args), callbacks)
        packed_kwargs = pack(dict(kwargs), callbacks)
        reply = self.request({"kind": "call", "name": name, "args": packed_args, "kwargs": packed_kwargs,
                              "shortcuts": shortcut_specs(active_shortcuts())})
        while reply["kind"] == "callback":  # the learner's code calls something the checker passed
            try:
                fn = callbacks[int(reply["id"])]
                result = fn(*unpack(reply.get("args", ())), **unpack(reply.get("kwargs", {})))
                answer = {"kind": "return", "value": pack(result)}
            except Exception as err:
                answer = {"kind": "raise", "type": type(err).__name__, "message": str(err)}
            reply = self.request(answer)
        if reply["kind"] == "result":
            self._write_back(args, unpack(reply.get("args", ())))
            return unpack(reply.get("value"))
        if reply["kind"] == "shortcut":
            self.shortcuts.append(str(reply.get("label")))
            raise ShortcutUsed(str(reply.get("label")))
        if reply["kind"] == "raised":
            kind, message = str(reply.get("type")), str(reply.get("message"))
            if kind == "NotImplementedError":
                raise NotImplementedError(message)
            raise exception(kind, message)
        raise ProtocolError(f"an unexpected reply {reply['kind']!r}")

    @staticmethod
    def _write_back(sent: Any, returned: Any) -> None:
        """Changes the learner's code made to its tensor and generator arguments, made here too."""
        if isinstance(sent, (list, tuple)) and isinstance(returned, (list, tuple)) and len(sent) == len(returned):
            for a, b in zip(sent, returned):
                Session._write_back(a, b)
        elif isinstance(sent, torch.Tensor) and isinstance(returned, torch.Tensor):
            if sent.shape == returned.shape and sent.dtype == returned.dtype and not torch.equal(sent, returned):
                with torch.no_grad():
                    sent.copy_(returned)
        elif isinstance(sent, torch.Generator) and isinstance(returned, torch.Generator):
            sent.set_state(returned.get_state())
