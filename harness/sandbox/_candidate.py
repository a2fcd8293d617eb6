"""The candidate server: runs the model's code in the nested sandbox and serves the judge.

Started by :mod:`_judge` as ``python -s -S -P -B -c <bootstrap> <read fd> <write fd>``; the
bootstrap gets this module and :mod:`_wire` as marshalled code on stdin. Standard library only,
and as few imports as possible: it starts for every verification.

Everything here is untrusted territory: the answer can rewrite this module or the wire and send
whatever it likes. That is fine, because the judge decides nothing on what this process claims;
it only ever receives plain data (which it builds itself) and references.
"""

import sys
from posix import O_RDONLY, dup2
from posix import close as _close
from posix import open as _open

import _wire

_SOURCE = "solution.py"


def main() -> None:
    rfd, wfd = int(sys.argv[1]), int(sys.argv[2])
    null = _open("/dev/null", O_RDONLY)  # the job arrived; nothing more to read on stdin
    dup2(null, 0)
    _close(null)
    peer = CandidatePeer(rfd, wfd)
    try:
        peer.serve()
    except (_wire.Gone, _wire.WireError):
        pass
    finally:
        _flush()


class CandidatePeer(_wire.Peer):
    """The candidate's end: loads the answer; shares end when only the wire holds them."""

    first_share = 1
    private_refused = True  # the judge refuses names starting with "_"

    def __init__(self, rfd: int, wfd: int) -> None:
        super().__init__(rfd, wfd)
        self._ops["load"] = self._h_load
        self._ops["subnew"] = self._h_subnew
        self._ops["violations"] = lambda mid: tuple(self._violations)
        self._violations: list[str] = []
        self._source = ""
        self._locals: dict[object, type] = {}
        self._backrefs: dict[int, object] = {}

    def _h_load(self, mid, style, entry, code):
        """Compile and run the answer as module ``solution``; return what the judge needs."""
        self._source = code
        if _environ_flag("HARNESS_SANDBOX_GUARDS"):
            # unsafe_local only: no OS-level sandbox, so the old in-process guards arm first.
            import _guards

            _guards.arm(self._violations)
        try:
            compiled = compile(code, _SOURCE, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:  # ValueError: NUL bytes in the source
            return ("syntax", _wire.format_traceback(exc, {}))
        module = type(sys)("solution")
        module.__file__ = _SOURCE
        sys.modules["solution"] = module
        exec(compiled, module.__dict__)
        names = module.__dict__
        if style == "humaneval":
            return ("entry", names[entry]) if entry in names else ("missing", entry)
        return ("names", tuple((n, self._by_value_or_ref(v)) for n, v in list(names.items())
                               if not (n.startswith("__") and n.endswith("__"))))  # fmt: skip

    def _by_value_or_ref(self, value):
        # Module-level containers holding objects go by reference, so that the tests' changes
        # (RATES["moon"] = ...) reach the code; plain ones go by value (and stay shared).
        # Standard-library modules go by name: the tests get the judge's own.
        if type(value) is type(sys):
            name = getattr(value, "__name__", None)
            if type(name) is str and name.partition(".")[0] in sys.stdlib_module_names:
                return ByName(name)
            return value
        if type(value) not in (list, dict, set, tuple, frozenset):
            return value
        ctx = _wire._Ctx()
        ctx.strict = True
        try:
            self._enc(value, ctx, 0)
        except _wire._Plain:
            return ByRef(value)
        except Exception:
            pass  # too large or cyclic: sending it will say so
        return value

    def _enc_other(self, v, ctx, depth):
        if type(v) is ByRef:
            return self._export(v.obj, ctx)
        if type(v) is ByName:
            return {"M": v.obj}
        return super()._enc_other(v, ctx, depth)

    def _h_subnew(self, mid, base, key, name, methods, props, back):
        """An instance of a judge-side subclass of ``base``: its overrides call the judge."""
        cls = self._locals.get(key)
        if cls is None:
            ns = {"__module__": "tests", "__qualname__": name}
            for m in methods:
                ns[m] = self._forward_method(m)
            for p in props:
                ns[p] = property(self._forward_property(p))
            cls = self._locals[key] = type(base)(name, (base,), ns)
        obj = cls.__new__(cls)
        self._backrefs[id(obj)] = back
        rid = len(self._exports) + 1
        self._exports[rid] = obj
        self._export_ids[id(obj)] = rid
        self._announced.add(rid)  # the judge already holds its side of it
        return rid

    def _forward_method(self, name):
        peer = self

        def method(obj, *args, **kwargs):
            return peer.call_method(peer._backrefs[id(obj)], name, args, kwargs)

        method.__name__ = name
        return method

    def _forward_property(self, name):
        peer = self
        return lambda obj: peer.get(peer._backrefs[id(obj)], name)

    def _drops(self) -> list:
        # A shared container that only the wire's tables still hold can no longer change here.
        out = []
        shared = self._shared
        for k in list(shared):
            if sys.getrefcount(shared[k]) <= 2:
                self._unshare(k)
                out.append(k)
        return out

    def _send(self, kind, mid, value, raw=False) -> None:
        if kind in (_wire.OK, _wire.ERR):
            _flush()  # the answer's prints reach the output before the judge moves on
        super()._send(kind, mid, value, raw)

    def traceback_text(self, exc) -> str:
        return _wire.format_traceback(exc, {_SOURCE: self._source})


class ByRef:
    """A value to send by reference even if it is plain (module-level names)."""

    __slots__ = ("obj",)

    def __init__(self, obj) -> None:
        self.obj = obj


class ByName(ByRef):
    """A standard-library module the judge should take by name (module-level names)."""


def _environ_flag(name: str) -> bool:
    from posix import environ

    return environ.get(name.encode()) == b"1"


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
