"""The "crosslink" torch.distributed backend, its options, statistics and DiLoCo.

Importing this module registers the backend:

    import crosslink.torch
    torch.distributed.init_process_group("crosslink")

How the ranks meet:
  * under crosslink-run (CROSSLINK_JOB_TOKEN set, MASTER_ADDR:MASTER_PORT is crosslink-run's
    coordinator): every rank joins that coordinator, so the launcher's --scenario is played. The
    env:// rendezvous then gives torch a TCPStore on a free port that rank 0 announces through
    the coordinator's key-value store (MASTER_PORT is the coordinator's, not torch's), so the
    gloo backend works under crosslink-run too;
  * otherwise (torchrun, env://, mp.spawn, tcp://, file://): rank 0 starts a Crosslink
    coordinator on a free port and announces its address and a fresh job token through torch's
    own c10d store; CROSSLINK_SCENARIO (a scenario file) makes the links emulate it.

Supported: all_reduce, broadcast, all_gather(_into_tensor), reduce_scatter(_tensor),
all_to_all_single (with or without split sizes), all_to_all, barrier (ProcessGroupCrosslink in
runtime/torch); the rest raise torch's "does not support" error.

Errors: a collective that fails (a dead rank, a cut link without resume, a deadline) raises
RuntimeError from wait() naming the rank and link; bad arguments raise ValueError or TypeError,
and so do arguments that disagree between ranks (all_to_all_single split sizes that do not
match), from wait().
"""

import contextlib
import datetime
import os
import secrets
import socket

import torch as _torch
import torch.distributed as _dist

from . import _crosslink

__all__ = ["CollectiveOptions", "DiLoCo", "ProcessGroupCrosslink", "collective_options",
           "get_options", "last_stats", "set_options"]

ProcessGroupCrosslink = _crosslink.ProcessGroupCrosslink
BACKEND_NAME = "crosslink"
_TORCH2 = int(_torch.__version__.split(".")[0]) >= 2
_COMPRESSIONS = ("none", "bf16", "int8")


class CollectiveOptions:
    """What Crosslink may do with a group's collectives.

    contact_aware: plan around predicted outages of the scenario's contact plan (bool).
    compression: "none", "bf16" or "int8" on the wire (allreduce of float32).
    min_participants: 0 for a complete result; n > 0 lets an allreduce finish with the ranks
        reachable by its deadline when at least n are (last_stats() says which contributed).
    deadline: seconds each collective may take (a positive number or datetime.timedelta);
        None keeps the group's timeout (init_process_group's timeout).
    """

    def __init__(self, contact_aware=False, compression="none", min_participants=0,
                 deadline=None):
        if not isinstance(contact_aware, bool):
            raise TypeError(f"contact_aware must be a bool, got {type(contact_aware).__name__}")
        if not isinstance(compression, str):
            raise TypeError(f"compression must be a str, got {type(compression).__name__}")
        if compression not in _COMPRESSIONS:
            raise ValueError(f"compression must be one of {', '.join(_COMPRESSIONS)}, "
                             f"got {compression!r}")
        if isinstance(min_participants, bool) or not isinstance(min_participants, int):
            raise TypeError(
                f"min_participants must be an int, got {type(min_participants).__name__}")
        if min_participants < 0:
            raise ValueError(f"min_participants must be >= 0, got {min_participants}")
        if isinstance(deadline, datetime.timedelta):
            deadline = deadline.total_seconds()
        if deadline is not None:
            if isinstance(deadline, bool) or not isinstance(deadline, (int, float)):
                raise TypeError("deadline must be seconds (a number or datetime.timedelta), "
                                f"got {type(deadline).__name__}")
            if not deadline > 0:
                raise ValueError(f"deadline must be positive, got {deadline}")
            deadline = float(deadline)
        self.contact_aware = contact_aware
        self.compression = compression
        self.min_participants = min_participants
        self.deadline = deadline

    def __repr__(self):
        return (f"CollectiveOptions(contact_aware={self.contact_aware}, "
                f"compression={self.compression!r}, min_participants={self.min_participants}, "
                f"deadline={self.deadline})")


def _backend(group=None):
    """The ProcessGroupCrosslink behind a torch process group (the default group when None)."""
    if group is None:
        group = _dist.distributed_c10d._get_default_group()
    if isinstance(group, ProcessGroupCrosslink):
        return group
    if _TORCH2 and hasattr(group, "_get_backend"):
        for device in ("cpu", "cuda"):
            try:
                backend = group._get_backend(_torch.device(device))
            except RuntimeError:
                continue
            if isinstance(backend, ProcessGroupCrosslink):
                return backend
    raise ValueError(f"the process group {group!r} does not use the crosslink backend "
                     "(init_process_group('crosslink'))")


def set_options(options, group=None):
    """Sets the CollectiveOptions of every later collective of `group` (default: WORLD)."""
    if not isinstance(options, CollectiveOptions):
        raise TypeError(f"options must be a CollectiveOptions, got {type(options).__name__}")
    backend = _backend(group)
    deadline = options.deadline
    if deadline is None:
        deadline = backend.options()["deadline"]
    backend.set_options(deadline, options.contact_aware, options.compression,
                        options.min_participants)


def get_options(group=None):
    """The group's current CollectiveOptions."""
    current = _backend(group).options()
    return CollectiveOptions(contact_aware=current["contact_aware"],
                             compression=current["compression"],
                             min_participants=current["min_participants"],
                             deadline=current["deadline"])


@contextlib.contextmanager
def collective_options(options, group=None):
    """Per-call options: the collectives issued inside the block use `options`, then the group's
    previous options return.

        with crosslink.torch.collective_options(CollectiveOptions(compression="bf16")):
            dist.all_reduce(t)
    """
    previous = get_options(group)
    set_options(options, group)
    try:
        yield
    finally:
        set_options(previous, group)


def last_stats(group=None):
    """What the group's last finished collective met: a dict with contributors (ranks whose data
    the result holds), participants, outages (met by this rank's links in it), resent (messages
    sent again after a link broke), algorithm, elapsed_s, sequence, outages_total (this rank,
    since the job began)."""
    return _backend(group).last_stats()


class DiLoCo:
    """DiLoCo's outer loop (diloco.h) from Python: each rank trains its own copy with `inner_opt`
    and the ranks average pseudo-gradients only every H steps, at a step inside the predicted
    contact window when max_shift_steps > 0 and the job plays a scenario.

        diloco = crosslink.torch.DiLoCo(model, torch.optim.AdamW(model.parameters()), H=50)
        for batch in data:
            loss(model, batch).backward()
            diloco.step()          # inner step, and the outer sync when one is due
            diloco.zero_grad()
    """

    def __init__(self, model, inner_opt, H=500, wire="bf16", outer_lr=0.7, outer_momentum=0.9,
                 max_shift_steps=0, contact_aware=False, sync_timeout=300.0, group=None):
        if not isinstance(model, _torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(inner_opt, _torch.optim.Optimizer):
            raise TypeError(
                f"inner_opt must be a torch.optim.Optimizer, got {type(inner_opt).__name__}")
        if isinstance(H, bool) or not isinstance(H, int) or H < 1:
            raise ValueError(f"H must be a positive int, got {H!r}")
        if wire not in ("fp32", "bf16"):
            raise ValueError(f"wire must be 'fp32' or 'bf16', got {wire!r}")
        self.model = model
        self.inner_opt = inner_opt
        self._steps = 0
        params = [p.data for p in model.parameters()]
        self._core = _crosslink.DiLoCoCore(_backend(group), params, H, wire, float(outer_lr),
                                           float(outer_momentum), int(max_shift_steps),
                                           bool(contact_aware), float(sync_timeout))

    def step(self):
        """One inner optimiser step, then the sync if due. Returns whether a sync ran."""
        self.inner_opt.step()
        self._steps += 1
        return self._core.after_inner_step(self._steps)

    def zero_grad(self, set_to_none=True):
        self.inner_opt.zero_grad(set_to_none=set_to_none)

    def stats(self):
        return self._core.stats()


# --- joining the job ------------------------------------------------------------------------

_COORDINATOR_KEY = "crosslink/python/coordinator"
_STORE_KEY = "crosslink/python/torch_store"


def _under_crosslink_run():
    """crosslink-run (or another launcher that runs a Crosslink coordinator on MASTER_PORT)."""
    return (bool(os.environ.get("CROSSLINK_JOB_TOKEN")) and "RANK" in os.environ
            and os.environ.get("CROSSLINK_COORDINATOR", "auto") != "embedded")


def _local_address(host):
    return host in ("127.0.0.1", "localhost", "::1")


def _create(store, rank, size, timeout):
    timeout_s = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else \
        float(timeout)
    if _under_crosslink_run():
        return _crosslink.process_group_from_environment(timeout_s)
    scenario = os.environ.get("CROSSLINK_SCENARIO", "")
    key = f"{_COORDINATOR_KEY}/{_generation(store)}"
    if rank == 0:
        host = os.environ.get("MASTER_ADDR", "127.0.0.1")
        bind = os.environ.get("CROSSLINK_COORDINATOR_BIND",
                              "127.0.0.1" if _local_address(host) else "0.0.0.0")
        coordinator = _crosslink.start_coordinator(size, bind, scenario, secrets.token_hex(16),
                                                   timeout_s)
        address = f"{host}:{coordinator.port}"
        store.set(key, f"{address} {coordinator.token}")
        return _crosslink.create_process_group(rank, size, address, coordinator.token, scenario,
                                               timeout_s, coordinator)
    address, token = store.get(key).decode().split(" ", 1)
    return _crosslink.create_process_group(rank, size, address, token, scenario, timeout_s)


def _generation(store):
    """One number per crosslink group created on this store, the same on every rank (groups are
    created in the same order everywhere), so a second group meets its own coordinator."""
    global _groups_created
    _groups_created += 1
    return _groups_created


_groups_created = 0


def _crosslink_run_rendezvous(url, timeout=datetime.timedelta(minutes=30), **kwargs):
    """env:// under crosslink-run: a TCPStore on a free port, announced through the coordinator
    (whose port MASTER_PORT is)."""
    rank = int(os.environ["RANK"])
    world_size = int(os.environ["WORLD_SIZE"])
    host = os.environ["MASTER_ADDR"]
    coordinator = f"{host}:{os.environ['MASTER_PORT']}"
    token = os.environ["CROSSLINK_JOB_TOKEN"]
    timeout_s = timeout.total_seconds()
    if rank == 0:
        store = _dist.TCPStore(host, 0, world_size, True, timeout, wait_for_workers=False)
        _crosslink.kv_set(coordinator, token, _STORE_KEY, str(store.port), timeout_s)
    else:
        port = int(_crosslink.kv_get(coordinator, token, _STORE_KEY, timeout_s))
        store = _dist.TCPStore(host, port, world_size, False, timeout)
    yield (store, rank, world_size)
    raise RuntimeError("Unable to perform re-rendezvous using env:// under crosslink-run")


def _install_env_rendezvous():
    import importlib
    rdzv = importlib.import_module("torch.distributed.rendezvous")
    original = rdzv._rendezvous_handlers.get("env")
    if original is None or getattr(original, "_crosslink", False):
        return

    def handler(url, timeout=datetime.timedelta(minutes=30), **kwargs):
        if _under_crosslink_run():
            return _crosslink_run_rendezvous(url, timeout=timeout, **kwargs)
        return original(url, timeout=timeout, **kwargs)

    handler._crosslink = True
    rdzv._rendezvous_handlers["env"] = handler


def _register():
    if BACKEND_NAME.upper() in _dist.Backend.__dict__:
        return
    if _TORCH2:
        _dist.Backend.register_backend(BACKEND_NAME, _create, devices=["cpu", "cuda"])
    else:
        _dist.Backend.register_backend(BACKEND_NAME, _create)
    _install_env_rendezvous()


_register()
