"""Per-epoch energy for any training script, metered by `greensed energy`.

    greensed energy --out DIR -- python3 train.py

    # train.py
    import greensed_windows

    for epoch in range(1, n_epochs + 1):
        with greensed_windows.window("epoch", epoch):
            train_one_epoch()
            validate()

`greensed energy` runs the command with GREENSED_WINDOWS set to a FIFO it reads, and puts this
module on PYTHONPATH (a copy compiled into greensed, so the two always match). Each open and close
is one line on the FIFO ("begin epoch 3", "end epoch 3"); greensed reads the meter when the line arrives, so a window's energy is
what the meter counted between its two readings. The windows and the time outside them are
differences of the same integer µJ accumulators: they add up to the run total exactly
(DIR/energy_windows.csv, DIR/energy_meta.json "epoch_accounting"). A window still open when the
command exits is closed by greensed and flagged `unclosed`.

Windows named "epoch" are the epochs of the run (their index is the epoch number); any other name
is a window of its own (e.g. "validation" inside an epoch). Windows nest in the order they are
opened. Calls from several processes (DataLoader workers, DDP ranks) are safe: each line is one
write of less than PIPE_BUF bytes.

Outside `greensed energy` (GREENSED_WINDOWS unset) every call does nothing, with one warning.
Standard library only.
"""

import contextlib
import os
import sys

__all__ = ["open_window", "close_window", "window", "enabled"]

_ENV = "GREENSED_WINDOWS"
_state = {"fd": None, "pid": None, "warned": False}


def enabled():
    """True when running under `greensed energy` (the windows are metered)."""
    return bool(os.environ.get(_ENV))


def _fd():
    path = os.environ.get(_ENV)
    if not path:
        if not _state["warned"]:
            _state["warned"] = True
            print(
                "greensed_windows: GREENSED_WINDOWS is not set (not run under `greensed energy`); "
                "windows are not metered",
                file=sys.stderr,
            )
        return None
    if _state["fd"] is None or _state["pid"] != os.getpid():
        # O_WRONLY on a FIFO greensed holds open: never blocks; one fd per process.
        _state["fd"] = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        _state["pid"] = os.getpid()
    return _state["fd"]


def _send(op, name, index):
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise ValueError(f"greensed_windows: a window kind is one word, not {name!r}")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise ValueError(f"greensed_windows: a window index is an int, not {index!r}")
    fd = _fd()
    if fd is None:
        return
    line = f"{op} {name}{'' if index is None else f' {index}'}\n".encode("utf-8")
    if len(line) > 4096:
        raise ValueError("greensed_windows: window name too long (one message must fit PIPE_BUF)")
    os.write(fd, line)


def open_window(name, index=None):
    """Opens window `name` (an "epoch" window takes the epoch number as `index`)."""
    _send("begin", name, index)


def close_window(name, index=None):
    """Closes the innermost open window `name` (with this `index` when given)."""
    _send("end", name, index)


@contextlib.contextmanager
def window(name, index=None):
    """`with window("epoch", k): ...` opens the window and closes it however the block ends."""
    open_window(name, index)
    try:
        yield
    finally:
        close_window(name, index)
