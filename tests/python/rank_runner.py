"""Runs one function on N ranks, each a fresh process (torch.multiprocessing's spawn), joined
through env:// (MASTER_ADDR/MASTER_PORT: torch's TCPStore), with a deadline: a test never hangs.

Each rank's function gets (rank, world, *args) and returns a picklable value; run_ranks returns the
values by rank or raises AssertionError carrying every failed rank's traceback. A rank that exits
without reporting (a test kills it on purpose) is allowed when listed in `may_die`.

CROSSLINK_TEST_DEVICE=cuda (bench/gpu_torch_check.sh) makes device() answer CUDA.
"""

import os
import queue
import socket
import time
import traceback

import torch.multiprocessing as mp


def device():
    import torch
    if os.environ.get("CROSSLINK_TEST_DEVICE") == "cuda":
        return torch.device("cuda", 0)
    return torch.device("cpu")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(fn, rank, world, port, results, args):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    try:
        import torch
        torch.set_num_threads(1)
        import crosslink.torch  # noqa: F401
        results.put((rank, True, fn(rank, world, *args)))
    except BaseException:  # noqa: B902 - every failure must reach the parent
        results.put((rank, False, traceback.format_exc()))


def run_ranks(world, fn, *args, timeout_s=180, may_die=()):
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_entry, args=(fn, r, world, port, results, args), daemon=True)
             for r in range(world)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout_s
    values, failures = {}, {}
    expected = world - len(may_die)
    try:
        while len(values) + len(failures) < expected:
            try:
                rank, ok, value = results.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            (values if ok else failures)[rank] = value
    finally:
        for p in procs:
            p.join(timeout=max(0.1, deadline - time.monotonic()))
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    missing = [r for r in range(world) if r not in values and r not in failures
               and r not in may_die]
    if failures or missing:
        text = "".join(f"--- rank {r} ---\n{tb}" for r, tb in sorted(failures.items()))
        raise AssertionError(f"ranks failed: {sorted(failures)}, never reported (hung or died) "
                             f"within {timeout_s}s: {missing}\n{text}")
    return [values.get(r) for r in range(world)]
