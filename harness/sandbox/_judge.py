"""The judge: runs a task's hidden tests against candidate code that runs in another process.

Standard library only (it runs in the warden). :func:`run_job` starts the candidate server
(:mod:`_candidate`) in a fresh nested sandbox, loads the answer there, and runs the tests HERE:
the tests, the expected values and every comparison stay in this process; the candidate only
receives call arguments. What crosses back is plain data built by this process (:mod:`_wire`)
or a reference to a candidate object, whose proxy never compares equal to, nor does arithmetic
with, anything but another proxy. The verdict is decided here, from the tests' own outcome.

Test semantics are those of the old in-process runner: ``humaneval`` runs the trusted prompt
(its helpers, e.g. ``poly`` of HumanEval/32), the tests and ``check(<entry point>)``; score 1 or
0. ``functions`` runs the tests in a namespace made of the answer's names (also importable as
``solution``; builtins win over them except the entry point) and calls every ``test_*`` the
tests define, in order; score passed/total.
"""

import builtins
import errno
import marshal
import os
import signal
import subprocess
import sys
import threading
import time
import types

import _wire
from _wire import Gone, Rejected, Unsendable, WireError

#: Every reason :func:`run_job` may return.
REASONS = (
    "passed", "failed", "error", "syntax_error", "timeout", "memory", "crashed", "killed",
    "exited", "output_flood", "not_plain", "forbidden",
)  # fmt: skip

FLOOD_FACTOR = 64  # output beyond this many times output_limit (and FLOOD_MIN) is a flood
FLOOD_MIN = 4 << 20
_MEMORY_MARKERS = ("MemoryError", "Cannot allocate memory", "out of memory")
_EXIT_GRACE_S = 2.0  # how long a candidate whose channel closed may take to exit
_CRASH_SIGNALS = {"SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT", "SIGSYS", "SIGTRAP"}

# The ``-c`` program of the candidate: read ``<8-byte size><marshalled {name: code}>`` on stdin,
# load its modules (_wire, [_guards,] _candidate, in that order) as top-level modules, serve.
BOOTSTRAP = """\
import marshal, sys
from posix import read
def _r(n):
    b = b''
    while len(b) < n:
        c = read(0, n - len(b))
        if not c: raise SystemExit(3)
        b += c
    return b
_blobs = marshal.loads(_r(int.from_bytes(_r(8), 'big')))
for _n in _blobs:
    _m = type(sys)(_n); sys.modules[_n] = _m
    exec(marshal.loads(_blobs[_n]), _m.__dict__)
del _r, _blobs, _n, _m, read, marshal
sys.modules['_candidate'].main()
"""


#: What tests and prompts commonly import: :func:`warm` imports them once, before the warden
#: forks a judge per job, so that no job pays for them (typing alone costs ~9 ms).
WARM_MODULES = (
    "typing", "math", "random", "string", "copy", "hashlib", "hmac", "decimal", "fractions",
    "datetime", "dataclasses", "sqlite3", "asyncio", "select", "fcntl",
)  # fmt: skip


def warm() -> None:
    """Import :data:`WARM_MODULES` (call once in the warden, before serving jobs)."""
    for name in WARM_MODULES:
        try:
            __import__(name)
        except ImportError:
            pass


def run_job(job: dict, launch, env: dict, workdir: str) -> dict:
    """Run the hidden tests of one task against candidate code; return the verdict.

    ``job``: style, entry_point, prompt, code, tests, timeout_s, output_limit. ``launch(argv)``
    returns the argv that runs ``argv`` in a fresh nested sandbox. Returns ``reason`` (one of
    :data:`REASONS`), ``passed``, ``total`` and ``output`` (the candidate's output tail and the
    judge's notes).
    """
    limit = int(job.get("output_limit") or 4096)
    timeout = float(job.get("timeout_s") or 10.0)
    notes: list[str] = []
    box = _Candidate(launch, env, workdir, timeout, limit)
    home = os.getcwd()
    os.chdir(workdir)  # files the tests make must be where the candidate looks for them
    try:
        box.start()
        outcome = _run_tests(box.peer, job, notes)
        if env.get("HARNESS_SANDBOX_GUARDS") == "1":
            outcome = _guarded(box.peer, outcome, notes)
    except KeyboardInterrupt:
        raise
    except (Gone, WireError, Rejected):
        outcome = ("error", 0, 1)
    except BaseException as exc:  # a bug here, or a candidate's BaseException that got out
        notes.append(f"[judge: internal error: {_wire._one_line(exc)}]")
        outcome = ("error", 0, 1)
    finally:
        box.stop()
        os.chdir(home)
    reason, passed, total = _final(outcome, box, notes)
    return {"reason": reason, "passed": passed, "total": total, "output": box.output(notes)}


# -- running the tests ----------------------------------------------------------------------


def _run_tests(peer: "JudgePeer", job: dict, notes: list[str]) -> tuple[str, int, int]:
    style = job.get("style") or "humaneval"
    entry = job.get("entry_point") or ""
    try:
        loaded = peer.request("load", style, entry, job.get("code") or "")
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        notes.append(_format(exc, job))
        return (_kind(exc), 0, 1)
    if not _well_formed(loaded):
        peer._broken(WireError("a malformed reply to load"))
        return ("error", 0, 1)
    if loaded[0] == "syntax":
        notes.append(str(loaded[1]))
        return ("syntax_error", 0, 1)
    if style == "humaneval":
        return _humaneval(peer, job, loaded, notes)
    return _functions(peer, job, loaded, notes)


def _guarded(peer: "JudgePeer", outcome: tuple, notes: list[str]) -> tuple[str, int, int]:
    """unsafe_local: a run the in-process guards refused something is never a success."""
    try:
        denied = peer.request("violations")
        if type(denied) is not tuple or not all(type(d) is str for d in denied):
            raise WireError("a malformed reply to violations")
    except KeyboardInterrupt:
        raise
    except BaseException:
        return outcome  # the candidate ended or lied: the verdict already says how
    if not denied:
        return outcome
    notes.append("sandbox: denied " + "; ".join(denied[:3]))
    return ("forbidden", 0, outcome[2])


def _well_formed(loaded) -> bool:
    if type(loaded) is not tuple or len(loaded) != 2:
        return False
    if loaded[0] == "names":
        pairs = loaded[1]
        return type(pairs) is tuple and all(
            type(p) is tuple and len(p) == 2 and type(p[0]) is str for p in pairs
        )
    if loaded[0] == "syntax":
        return type(loaded[1]) is str
    return loaded[0] in ("entry", "missing")


def _humaneval(peer, job, loaded, notes) -> tuple[str, int, int]:
    peer.refs_allowed = False  # from now on only plain data may come back
    entry = job.get("entry_point") or ""
    ns = {"__name__": "tests", "__builtins__": builtins}
    try:  # the prompt's helpers (poly, encode_cyclic...) come from the trusted prompt
        exec(compile(job.get("prompt") or "", "prompt.py", "exec", dont_inherit=True), ns)
    except Exception:
        pass  # a prompt that is prose, not code
    if loaded[0] == "entry":
        ns[entry] = loaded[1]
    else:
        ns.pop(entry, None)
    program = f"{job.get('tests') or ''}\n\ncheck({entry})\n"
    try:
        exec(compile(program, "tests.py", "exec", dont_inherit=True), ns)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        notes.append(_format(exc, job, program))
        return (_kind(exc), 0, 1)
    return ("passed", 1, 1)


def _functions(peer, job, loaded, notes) -> tuple[str, int, int]:
    names = dict(loaded[1]) if loaded[0] == "names" else {}
    entry = job.get("entry_point") or ""
    # Python's builtins win over the answer's names in the tests' namespace: an answer's
    # ``abs``, ``isinstance`` or ``ValueError = IndexError`` would otherwise change what the
    # tests compute. The entry point the prompt asks for stays (``solution`` has them all).
    ns = {n: v for n, v in names.items() if n == entry or not hasattr(builtins, n)}
    ns.update(__name__="tests", __file__="tests.py", __builtins__=builtins)
    module = types.ModuleType("solution")
    module.__dict__.update(names)
    saved = sys.modules.get("solution")
    sys.modules["solution"] = module
    try:
        try:
            exec(compile(job.get("tests") or "", "tests.py", "exec", dont_inherit=True), ns)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            notes.append("error loading the tests:\n" + _format(exc, job))
            return (_kind(exc), 0, 1)
        # Only the hidden tests' own test_* count, not any the answer defines.
        tests = [
            (n, f)
            for n, f in list(ns.items())
            if n.startswith("test_") and callable(f) and names.get(n) is not f
        ]
        if not tests:
            notes.append("no test_* functions found in the tests")
            return ("error", 0, 0)
        return _run_each(peer, job, tests, notes)
    finally:
        if saved is None:
            sys.modules.pop("solution", None)
        else:
            sys.modules["solution"] = saved


def _run_each(peer, job, tests, notes) -> tuple[str, int, int]:
    passed = 0
    first = ""
    for name, fn in tests:
        try:
            result = fn()
            if type(result).__name__ == "coroutine":  # an async test: run it to the end
                import asyncio

                asyncio.run(result)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            reason = _kind(exc)
            if not first:
                first = reason
                notes.append(f"FAILED {name}:\n" + _format(exc, job))
            else:
                notes.append(f"FAILED {name}: {_wire._one_line(exc)}")
            if reason in ("memory", "forbidden"):
                first = reason
        else:
            passed += 1
        if peer.fault is not None:
            break
    notes.append(f"{passed}/{len(tests)} tests passed")
    return ("passed" if passed == len(tests) else first, passed, len(tests))


def _kind(exc: BaseException) -> str:
    if isinstance(exc, Rejected):
        return exc.reason
    if isinstance(exc, (Gone, WireError)):
        return "error"  # replaced by what happened to the process (see _final)
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return "forbidden"
    if isinstance(exc, AssertionError):
        return "failed"
    return "error"


def _format(exc: BaseException, job: dict, tests: str | None = None) -> str:
    sources = {"tests.py": tests or job.get("tests") or "", "prompt.py": job.get("prompt") or ""}
    try:
        text = _wire.format_traceback(exc, sources)
        remote = getattr(exc, "_w_tb", None)
        if type(remote) is str and remote:
            text += "Raised by the candidate:\n" + remote
        return text.rstrip("\n")
    except BaseException:
        return type(exc).__name__


def _final(outcome, box: "_Candidate", notes: list[str]) -> tuple[str, int, int]:
    """The verdict: the tests' outcome unless the run ended abnormally."""
    reason, passed, total = outcome
    fault = box.peer.fault if box.peer is not None else None
    if box.flooded:
        notes.append(f"[judge: output flood, more than {box.flood_cap} bytes; stopped]")
        return ("output_flood", 0, total)
    if box.timed_out:
        notes.append(f"[judge: wall timeout after {box.timeout:g} s; stopped]")
        return ("timeout", 0, total)
    if isinstance(fault, Rejected):
        notes.append(f"[judge: {fault}]")
        return (fault.reason, 0, total)
    if isinstance(fault, WireError):
        notes.append(f"[judge: protocol violation by the candidate: {fault}]")
        return ("error", 0, total)
    if isinstance(fault, Gone) or box.start_failed:
        why, note = box.ending()
        notes.append(note)
        return (why, 0, total)
    return (reason, passed, total)


# -- the candidate process ------------------------------------------------------------------


class _Candidate:
    """The candidate's nested sandbox: channel, output tail, wall timeout, flood cap."""

    def __init__(self, launch, env, workdir, timeout, limit) -> None:
        self.launch, self.env, self.workdir = launch, env, workdir
        self.timeout, self.limit = timeout, limit
        self.flood_cap = max(FLOOD_FACTOR * limit, FLOOD_MIN)
        self.deadline = time.monotonic() + timeout
        self.proc: subprocess.Popen | None = None
        self.peer: JudgePeer | None = None
        self.tail = bytearray()
        self.total = 0
        self.timed_out = self.flooded = self.start_failed = False
        self.ended_itself = False  # it exited before the judge killed it
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        j_read, c_write = os.pipe()
        c_read, j_write = os.pipe()
        for fd in (j_read, j_write):
            _grow_pipe(fd)
        argv = [sys.executable, "-s", "-S", "-P", "-B", "-c", BOOTSTRAP, str(c_read), str(c_write)]
        try:
            self.proc = subprocess.Popen(
                self.launch(argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(c_read, c_write),
                cwd=self.workdir,
                env=self.env,
                start_new_session=True,
            )
        except OSError as exc:
            self.start_failed = True
            self.start_error = f"{type(exc).__name__}: {exc}"
            for fd in (j_read, c_write, c_read, j_write):
                os.close(fd)
            raise Gone("the candidate could not be started") from None
        finally:
            if not self.start_failed:
                os.close(c_read)
                os.close(c_write)
        self.peer = JudgePeer(j_read, j_write)
        self._thread = threading.Thread(target=self._watch, name="judge-watch", daemon=True)
        self._thread.start()
        try:
            self.proc.stdin.write(_payload(self.env.get("HARNESS_SANDBOX_GUARDS") == "1"))
            self.proc.stdin.close()
        except OSError:
            pass  # it died before reading its code: the channel will say so

    def _watch(self) -> None:
        """Drain the output (keep the tail), enforce the wall timeout and the flood cap."""
        try:
            self._drain(self.proc.stdout.fileno())
        except (OSError, ValueError):
            pass  # stop() closed the pipe: something outside the group still held it
        if self.timed_out or self.flooded:
            self._kill()

    def _drain(self, fd: int) -> None:
        import select

        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                self.timed_out = not self._done.is_set()
                break
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:  # closed: it ended (or closed its output); the deadline still holds
                left = self.deadline - time.monotonic()
                if not self._done.wait(max(0.0, left)):
                    self.timed_out = True
                break
            self.total += len(chunk)
            self.tail += chunk
            if len(self.tail) > self.limit:
                del self.tail[: len(self.tail) - self.limit]
            if self.total > self.flood_cap:
                self.flooded = True
                break

    def _kill(self) -> bool:
        """SIGKILL its process group; False if it could not be signalled at all."""
        if self.proc is None:
            return True
        done = False
        for kill in (lambda: os.killpg(self.proc.pid, signal.SIGKILL), self.proc.kill):
            try:
                kill()
                done = True
            except ProcessLookupError:
                done = True
            except OSError:
                pass
        return done

    def stop(self) -> None:
        """Kill what is left; wait for the output to end."""
        if self._done.is_set():
            return
        self._done.set()
        if self.proc is None:
            return
        if isinstance(self.peer.fault, Gone) and not (self.timed_out or self.flooded):
            # The channel closed: let it (and a wrapper such as bwrap) end and report why.
            try:
                self.proc.wait(timeout=_EXIT_GRACE_S)
                self.ended_itself = True
            except subprocess.TimeoutExpired:
                pass
        if self._kill():
            self.proc.wait()  # SIGKILL cannot be ignored; a blocking wait costs no polling
        else:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self._thread is not None:
            self._thread.join(timeout=1)
        for fd in (self.peer.rfd, self.peer.wfd) if self.peer else ():
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def ending(self) -> tuple[str, str]:
        """Reason and note for a candidate that went away before the tests finished."""
        if self.start_failed:
            return ("error", f"[judge: the candidate could not be started: {self.start_error}]")
        code = self.proc.returncode if self.proc is not None else None
        tail = bytes(self.tail).decode("utf-8", "replace")
        memory = any(m in tail for m in _MEMORY_MARKERS)
        if code is None or not self.ended_itself:
            return ("error", "[judge: the candidate closed its channel and kept running]")
        sig = -code if code < 0 else code - 128 if 128 < code <= 192 else 0  # 128+n: a wrapper's
        if not sig:
            why = "memory" if memory else "exited"
            return (why, f"[judge: the candidate exited with status {code} before the end]")
        name = _signal_name(sig)
        if name == "SIGXCPU":
            return ("timeout", "[judge: the CPU time limit was reached (SIGXCPU)]")
        if name == "SIGXFSZ":
            return ("forbidden", "[judge: a file exceeded the size limit (SIGXFSZ)]")
        if memory:
            return ("memory", f"[judge: the candidate died out of memory ({name})]")
        why = "crashed" if name in _CRASH_SIGNALS else "killed"
        return (why, f"[judge: the candidate was killed by {name}]")

    def output(self, notes: list[str]) -> str:
        text = bytes(self.tail).decode("utf-8", "replace")
        if self.total > len(self.tail):
            text = f"[... {self.total - len(self.tail)} earlier bytes truncated ...]\n{text}"
        if notes:
            text = (text.rstrip("\n") + "\n" if text.strip() else "") + "\n".join(notes)
        if len(text) > self.limit:
            marker = "[... truncated ...]\n"
            text = marker + text[len(text) - max(0, self.limit - len(marker)) :]
        return text


def _grow_pipe(fd: int) -> None:
    # A bigger pipe makes it rarer that both ends block writing large messages at once.
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, OSError, AttributeError):
        pass


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


_PAYLOADS: dict[bool, bytes] = {}


def _payload(guards: bool = False) -> bytes:
    """The candidate server's code for the bootstrap: from the warden's bundle, or compiled.

    ``guards`` (``unsafe_local`` only) adds the in-process guards the candidate then arms.
    """
    if guards not in _PAYLOADS:
        blobs = getattr(sys.modules.get("_bundle"), "BLOBS", None) or {}
        out = {}
        for name in ("_wire", "_guards", "_candidate") if guards else ("_wire", "_candidate"):
            blob = blobs.get(name)
            if blob is None:
                here = os.path.dirname(os.path.abspath(_wire.__file__))
                with open(os.path.join(here, f"{name}.py"), encoding="utf-8") as fh:
                    source = fh.read()
                # optimize=2 drops docstrings: less to send and unmarshal for every candidate
                code = compile(source, f"<sandbox {name}>", "exec", dont_inherit=True, optimize=2)
                blob = marshal.dumps(code)
            out[name] = blob
        data = marshal.dumps(out)
        _PAYLOADS[guards] = len(data).to_bytes(8, "big") + data
    return _PAYLOADS[guards]


# -- the judge's end of the wire: what the candidate may do here ---------------------------


#: Operations the candidate may apply to the judge's objects (besides calling and awaiting).
JUDGE_DUNDERS = frozenset(
    "__iter__ __next__ __len__ __getitem__ __setitem__ __delitem__ __contains__ __bool__"
    " __enter__ __exit__ __aenter__ __aexit__ __aiter__ __anext__ __str__ __repr__"
    " __call__ __await__".split()
)
#: Public names that still reach too far into the judge's process.
DENIED_NAMES = frozenset(
    "enable_load_extension load_extension set_authorizer deserialize"
    " get_loop get_coro get_stack print_stack".split()
)
_OPAQUE = (
    types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.MethodWrapperType,
    types.WrapperDescriptorType, types.MethodDescriptorType, types.ModuleType, types.CodeType,
    types.FrameType, types.TracebackType, types.CellType,
)  # fmt: skip
_RUNNING = (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)
_RUNNING_NAMES = frozenset("send throw close asend athrow aclose".split())
_NEVER_SENT = (types.FrameType, types.CodeType, types.TracebackType, types.CellType)
_NO_IMPORT = frozenset("antigravity this idlelib tkinter turtle turtledemo test".split())
_CONTROL_FLOW = (SystemExit, KeyboardInterrupt, GeneratorExit)


class JudgePeer(_wire.Peer):
    """The judge's end: refuses what the candidate may not do, builds only trusted values."""

    first_share = 0
    refs_allowed = True  # humaneval turns this off after loading

    def __init__(self, rfd: int, wfd: int) -> None:
        super().__init__(rfd, wfd)
        self._local_keys = 0

    # What the candidate may do with the judge's objects.

    def _check(self, op: str, target, name=None) -> None:
        rid = self._export_ids.get(id(target))
        if rid is None or self._exports.get(rid) is not target:
            raise PermissionError("the candidate may only use objects the judge gave it")
        if op == "op" and name not in JUDGE_DUNDERS:
            raise TypeError(f"operation {name!r} is not allowed on the judge's objects")
        if op in ("get", "set"):
            if type(name) is not str or name.startswith("_") or name in DENIED_NAMES:
                raise AttributeError(f"attribute {name!r} is not available")
            if isinstance(target, _RUNNING):
                if op == "set" or name not in _RUNNING_NAMES:
                    raise AttributeError(f"attribute {name!r} is not available")
            elif isinstance(target, _OPAQUE) or (op == "set" and isinstance(target, type)):
                raise AttributeError(f"attribute {name!r} is not available")

    def _on_ref(self, is_class: bool) -> None:
        if not self.refs_allowed:  # an object, or a class that is not an exception's
            raise Rejected("not_plain", "the candidate returned an object that is not plain data")

    def request(self, op, *fields):
        try:
            return super().request(op, *fields)
        except Rejected as exc:
            self._broken(exc)  # a value the judge refuses ends the run
            raise

    # What the judge builds from the candidate's messages.

    def trusted_class(self, module: str, qualname: str):
        """Only builtins types, standard-library exceptions and value types are taken as the
        judge's own classes; every other class becomes a mirror. Nothing is imported."""
        top = module.partition(".")[0]
        if module != "builtins" and top not in sys.stdlib_module_names:
            return None
        obj = sys.modules.get(module)
        for part in qualname.split("."):
            if obj is None or part.startswith("_") or part.startswith("<"):
                return None
            obj = getattr(obj, part, None)
        if not isinstance(obj, type) or obj in _CONTROL_FLOW:
            return None
        if issubclass(obj, BaseException) or module == "builtins" or obj in _value_classes():
            return obj
        return None

    def resolve_global(self, module: str, qualname: str):
        return self.trusted_class(module, qualname)

    def _d_module(self, v):
        # The answer's standard-library imports, imported here; never a ``__main__`` or
        # private module, nor one that does something when imported.
        name = _wire._str(v)
        parts = name.split(".")
        if parts[0] not in sys.stdlib_module_names or parts[0] in _NO_IMPORT:
            return None
        if any(not p or p.startswith("_") for p in parts):
            return None
        try:
            return _wire._import(name)
        except BaseException:
            return None

    # What the judge sends.

    def _global_name(self, v):
        if not isinstance(v, (type, types.FunctionType, types.BuiltinFunctionType)):
            return None
        module = getattr(v, "__module__", None)
        qualname = getattr(v, "__qualname__", None)
        if type(module) is not str or type(qualname) is not str or "<" in qualname:
            return None
        if module != "builtins" and module.partition(".")[0] not in sys.stdlib_module_names:
            return None
        try:
            if _wire._lookup(sys.modules[module], qualname) is v:
                return [module, qualname]
        except Exception:
            pass
        return None

    def _enc_module(self, v):
        name = getattr(v, "__name__", "")
        if name.partition(".")[0] in sys.stdlib_module_names:
            return {"M": name}
        raise Unsendable("a module of the tests cannot be passed to the candidate")

    def _export(self, v, ctx):
        if isinstance(v, _NEVER_SENT) or _is_event_loop(v):
            raise Unsendable(f"a {type(v).__name__} cannot be passed to the candidate")
        if _is_sqlite_connection(v) and id(v) not in self._export_ids:
            v.set_authorizer(_deny_attach)  # no ATTACH of files from the judge's process
        return super()._export(v, ctx)

    def function_meta(self, v) -> list:
        # The docstring crosses (functools.wraps in the answer copies it) but not where the
        # function was defined: ``test_x.<locals>.cb`` would name the hidden test.
        name, qualname, doc, module = super().function_meta(v)
        return [name, _local_name(qualname), doc, module]

    def describe_class(self, cls) -> list:
        meta = super().describe_class(cls)
        meta[1], meta[3] = _local_name(meta[1]), None  # no enclosing test names, no docstring
        dunders = [d for d in meta[4] if d in JUDGE_DUNDERS]
        methods = []
        for n in dir(cls):
            if n.startswith("_") or n in DENIED_NAMES:
                continue
            attr = getattr(cls, n, None)
            if isinstance(attr, (types.FunctionType, types.MethodDescriptorType)):
                methods.append(n)
        meta[4], meta[5] = dunders, methods
        meta[7] = "n" if getattr(cls, "__hash__", None) is None else "i"
        meta[8] = None
        return meta

    # Test classes derived from the candidate's classes, and dataclass introspection.

    def new_local(self, cls, args, kwargs):
        base = _wire._remote_base(cls)
        key = cls.__dict__.get("_w_key")
        if key is None:
            self._local_keys += 1
            key = self._local_keys
            type.__setattr__(cls, "_w_key", key)
        methods, props = _local_names(cls, base)
        obj = object.__new__(cls)
        rid = self.request("subnew", base, key, cls.__name__, methods, props, obj)
        if type(rid) is not int or rid in self._proxies:
            raise WireError("bad reply to subnew")
        obj._w_id = rid
        self._proxies[rid] = obj
        obj.__init__(*args, **kwargs)
        return obj

    def dataclass_fields(self, cls):
        owner = _wire._remote_base(cls)
        spec = owner.__dict__.get("_w_fields") if owner is not None else None
        if spec is None:
            raise AttributeError("__dataclass_fields__")
        import dataclasses

        kinds = {
            "f": dataclasses._FIELD,
            "c": dataclasses._FIELD_CLASSVAR,
            "i": dataclasses._FIELD_INITVAR,
        }
        fields = {}
        for name, kind in spec:
            f = dataclasses.field()
            f.name, f._field_type = name, kinds[kind]
            fields[name] = f
        type.__setattr__(owner, "__dataclass_fields__", fields)
        return fields


def _local_name(qualname):
    return qualname.rpartition(">.")[2] if type(qualname) is str else qualname


def _local_names(cls, base) -> tuple[list[str], list[str]]:
    """Names a test class defines over a candidate class: methods and other attributes."""
    skip = {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__slots__",
            "__init__", "__new__", "__init_subclass__", "_w_key"}  # fmt: skip
    methods, props, seen = [], [], set()
    for k in cls.__mro__:
        if k is base:
            break
        for n, v in k.__dict__.items():
            if n in seen or n in skip or (n.startswith("_") and n not in JUDGE_DUNDERS):
                continue
            seen.add(n)
            is_method = callable(v) or isinstance(v, (staticmethod, classmethod))
            (methods if is_method else props).append(n)
    return methods, props


_VALUES: set | None = None


def _value_classes() -> set:
    """Standard-library value classes the judge takes as its own (only if already imported)."""
    names = {
        "decimal": ("Decimal",),
        "fractions": ("Fraction",),
        "datetime": ("date", "datetime", "time", "timedelta", "timezone"),
        "collections": ("OrderedDict", "defaultdict", "Counter", "deque"),
        "sqlite3": ("Row",),
    }
    out = set()
    for module, classes in names.items():
        mod = sys.modules.get(module)
        for c in classes:
            if mod is not None and isinstance(getattr(mod, c, None), type):
                out.add(getattr(mod, c))
    return out


def _is_event_loop(v) -> bool:
    aio = sys.modules.get("asyncio")
    return aio is not None and isinstance(v, aio.AbstractEventLoop)


def _is_sqlite_connection(v) -> bool:
    sqlite3 = sys.modules.get("sqlite3")
    return sqlite3 is not None and isinstance(v, sqlite3.Connection)


def _deny_attach(action, *args) -> int:
    sqlite3 = sys.modules["sqlite3"]
    return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_ATTACH else sqlite3.SQLITE_OK


__all__ = ["BOOTSTRAP", "REASONS", "WARM_MODULES", "JudgePeer", "run_job", "warm"]
