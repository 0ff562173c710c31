"""What each rank runs in the Python backend's tests (rank_runner.run_ranks); importable by the
spawned processes. Every function compares Crosslink's result with gloo's on the same inputs, or
returns what the test asserts on."""

import copy
import datetime
import os
import time

import torch
import torch.distributed as dist
import torch.nn as nn

import crosslink.torch as ct
from rank_runner import device

TIMEOUT = datetime.timedelta(seconds=120)


def _expect_error(errors, name, exc_type, fn):
    """Runs fn, which must raise exc_type; records its message in errors[name]."""
    try:
        fn()
    except exc_type as e:
        errors[name] = str(e)
        return
    except Exception as e:  # noqa: B902
        raise AssertionError(f"{name}: raised {type(e).__name__}: {e}, expected "
                             f"{exc_type.__name__}")
    raise AssertionError(f"{name}: no error, expected {exc_type.__name__}")


def _init():
    dist.init_process_group("crosslink", timeout=TIMEOUT)
    return dist.new_group(backend="gloo")


def _finish():
    dist.barrier()
    dist.destroy_process_group()


def _equal(name, got, want, atol=0.0):
    got = got.detach().cpu()
    if atol == 0.0:
        ok = torch.equal(got, want)
    else:
        ok = torch.allclose(got.to(want.dtype), want, atol=atol, rtol=0)
    if not ok:
        raise AssertionError(f"{name}: crosslink {got.flatten()[:8].tolist()} != gloo "
                             f"{want.flatten()[:8].tolist()}")


def ops_vs_gloo(rank, world):
    gloo = _init()
    registered = {"backend": dist.get_backend(), "rank": dist.get_rank(),
                  "world": dist.get_world_size(), "attr": dist.Backend.CROSSLINK.lower()}
    dev = device()
    gen = torch.Generator().manual_seed(1000 + rank)
    R = dist.ReduceOp

    def data(n, dtype):
        # Integer-valued: every summation order gives the same float, so results compare exactly.
        return torch.randint(-100, 100, (n,), generator=gen).to(dtype)

    for dtype in (torch.float32, torch.float64, torch.int32, torch.int64):
        for op in (R.SUM, R.MIN, R.MAX):
            x = data(1237, dtype)
            mine, ref = x.to(dev), x.clone()
            dist.all_reduce(mine, op=op)
            dist.all_reduce(ref, op=op, group=gloo)
            _equal(f"all_reduce {op} {dtype}", mine, ref)
    # AVG (gloo has none): the SUM over the ranks divided by their number.
    x = data(1000, torch.float32)
    mine, ref = x.to(dev), x.clone()
    dist.all_reduce(mine, op=R.AVG)
    dist.all_reduce(ref, group=gloo)
    _equal("all_reduce AVG", mine, ref / world, atol=1e-5)

    x = data(777, torch.float32).view(7, 111)
    mine, ref = x.to(dev), x.clone()
    dist.broadcast(mine, src=1)
    dist.broadcast(ref, src=1, group=gloo)
    _equal("broadcast", mine, ref)

    x = data(300, torch.float32).view(3, 100)
    mine = [torch.empty_like(x, device=dev) for _ in range(world)]
    ref = [torch.empty_like(x) for _ in range(world)]
    dist.all_gather(mine, x.to(dev))
    dist.all_gather(ref, x, group=gloo)
    for r in range(world):
        _equal(f"all_gather[{r}]", mine[r], ref[r])
    gather_into = getattr(dist, "all_gather_into_tensor", None) or dist._all_gather_base
    flat = torch.empty(world * 300, device=dev)
    gather_into(flat, x.flatten().to(dev))
    _equal("all_gather_into_tensor", flat, torch.cat([t.flatten() for t in ref]))

    # reduce_scatter: the reference is gloo's SUM allreduce, sliced by rank.
    inputs = [data(64, torch.float32) for _ in range(world)]
    full = torch.cat(inputs)
    total = full.clone()
    dist.all_reduce(total, group=gloo)
    want = total.view(world, 64)[rank]
    out = torch.empty(64, device=dev)
    dist.reduce_scatter(out, [t.to(dev) for t in inputs])
    _equal("reduce_scatter", out, want)
    scatter_tensor = getattr(dist, "reduce_scatter_tensor", None) or dist._reduce_scatter_base
    out = torch.empty(64, device=dev)
    scatter_tensor(out, full.to(dev))
    _equal("reduce_scatter_tensor", out, want)
    maxed = full.clone()
    dist.all_reduce(maxed, op=R.MAX, group=gloo)
    out = torch.empty(64, device=dev)
    scatter_tensor(out, full.to(dev), op=R.MAX)
    _equal("reduce_scatter_tensor MAX", out, maxed.view(world, 64)[rank])

    dist.barrier()

    # Async: the Work completes, its future holds the result.
    x = data(4096, torch.float32)
    mine, ref = x.clone().to(dev), x.clone()
    work = dist.all_reduce(mine, async_op=True)
    work.wait(datetime.timedelta(seconds=60))
    assert work.is_completed()
    dist.all_reduce(ref, group=gloo)
    _equal("async all_reduce", mine, ref)
    fut = dist.all_reduce(x.to(dev), async_op=True).get_future()
    _equal("async future", fut.wait()[0], ref)

    stats = ct.last_stats()
    assert stats["contributors"] == list(range(world)), stats
    assert stats["participants"] == world and stats["outages"] == 0, stats
    _finish()
    return registered


def options_and_errors(rank, world):
    gloo = _init()
    dev = device()
    # Per call: bf16 on the wire rounds what it carries; the group's options come back afterwards.
    value = 1.0 + 1.0 / 512 * (rank + 1)  # not representable in bf16 (8 bits of mantissa)
    exact = sum(1.0 + 1.0 / 512 * (r + 1) for r in range(world))
    with ct.collective_options(ct.CollectiveOptions(compression="bf16", deadline=60.0)):
        assert ct.get_options().compression == "bf16"
        t = torch.full((4096,), value, device=dev)
        dist.all_reduce(t)
    bf16_error = abs(float(t[0]) - exact)
    assert ct.get_options().compression == "none"
    t = torch.full((4096,), value, device=dev)
    dist.all_reduce(t)
    fp32_error = abs(float(t[0]) - exact)
    assert fp32_error < 1e-5, fp32_error
    assert 0 < bf16_error < exact * 2 ** -7, bf16_error
    ct.set_options(ct.CollectiveOptions(contact_aware=True, min_participants=world))
    got = ct.get_options()
    assert got.contact_aware and got.min_participants == world
    ct.set_options(ct.CollectiveOptions())

    errors = {}

    def expect(name, exc_type, fn):
        _expect_error(errors, name, exc_type, fn)

    expect("compression", ValueError, lambda: ct.CollectiveOptions(compression="zstd"))
    expect("min_participants type", TypeError, lambda: ct.CollectiveOptions(min_participants="2"))
    expect("min_participants negative", ValueError,
           lambda: ct.CollectiveOptions(min_participants=-1))
    expect("deadline", ValueError, lambda: ct.CollectiveOptions(deadline=0))
    expect("contact_aware type", TypeError, lambda: ct.CollectiveOptions(contact_aware="yes"))
    expect("set_options type", TypeError, lambda: ct.set_options({"compression": "bf16"}))
    expect("min_participants > world", ValueError,
           lambda: ct.set_options(ct.CollectiveOptions(min_participants=world + 1)))
    expect("PRODUCT", ValueError,
           lambda: dist.all_reduce(torch.ones(4, device=dev), op=dist.ReduceOp.PRODUCT))
    expect("uint8", ValueError,
           lambda: dist.all_reduce(torch.ones(4, dtype=torch.uint8, device=dev)))
    expect("all_gather list length", ValueError,
           lambda: dist.all_gather([torch.ones(4, device=dev)], torch.ones(4, device=dev)))
    expect("DiLoCo H", ValueError,
           lambda: ct.DiLoCo(nn.Linear(2, 2), torch.optim.SGD(nn.Linear(2, 2).parameters(), 0.1),
                             H=0))
    expect("DiLoCo model", TypeError,
           lambda: ct.DiLoCo("model", torch.optim.SGD(nn.Linear(2, 2).parameters(), 0.1)))
    expect("not a crosslink group", ValueError, lambda: ct.last_stats(gloo))
    # The group still works after every refused call.
    t = torch.ones(8, device=dev)
    dist.all_reduce(t)
    assert float(t[0]) == world
    diloco = diloco_average(rank, world, 3, gloo)
    _finish()
    return {"errors": errors, "diloco": diloco}


class _Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                                 nn.Linear(64, 5))

    def forward(self, x):
        return self.net(x)


def ddp_vs_gloo(rank, world, steps):
    gloo = _init()
    dev = device()
    torch.manual_seed(rank + 7)  # different starts: DDP must broadcast rank 0's
    model_x = _Mlp().to(dev)
    model_g = _Mlp()
    ids = [dev.index] if dev.type == "cuda" else None
    ddp_x = nn.parallel.DistributedDataParallel(model_x, device_ids=ids, bucket_cap_mb=0.01)
    ddp_g = nn.parallel.DistributedDataParallel(model_g, process_group=gloo, bucket_cap_mb=0.01)
    with torch.no_grad():  # the gloo model starts from the crosslink model's (broadcast) weights
        for a, b in zip(model_g.parameters(), model_x.parameters()):
            a.copy_(b.cpu())
    start = torch.cat([p.detach().cpu().flatten() for p in model_x.parameters()])
    opt_x = torch.optim.SGD(ddp_x.parameters(), lr=0.05, momentum=0.9)
    opt_g = torch.optim.SGD(ddp_g.parameters(), lr=0.05, momentum=0.9)
    gen = torch.Generator().manual_seed(rank)
    for _ in range(steps):
        x = torch.randn(32, 20, generator=gen)
        y = torch.randint(0, 5, (32,), generator=gen)
        for ddp, opt, d in ((ddp_x, opt_x, dev), (ddp_g, opt_g, torch.device("cpu"))):
            opt.zero_grad()
            nn.functional.cross_entropy(ddp(x.to(d)), y.to(d)).backward()
            opt.step()
    diff = max(float((a.detach().cpu() - b.detach()).abs().max())
               for a, b in zip(model_x.parameters(), model_g.parameters()))
    flat = torch.cat([p.detach().flatten() for p in model_x.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    same_on_ranks = all(torch.equal(g, gathered[0]) for g in gathered)
    moved = float((flat.cpu() - start).abs().max())
    _finish()
    return {"max_diff": diff, "same_on_ranks": same_on_ranks, "moved": moved}


def diloco_average(rank, world, H, gloo):
    dev = device()
    torch.manual_seed(3)
    model = _Mlp().to(dev)
    shadow = copy.deepcopy(model).cpu()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt_shadow = torch.optim.SGD(shadow.parameters(), lr=0.1)
    diloco = ct.DiLoCo(model, opt, H=H, wire="fp32", outer_lr=1.0, outer_momentum=0.0)
    gen = torch.Generator().manual_seed(100 + rank)
    synced = []
    for step in range(1, H + 1):
        x = torch.randn(16, 20, generator=gen)
        y = torch.randint(0, 5, (16,), generator=gen)
        for m, o in ((model, None), (shadow, opt_shadow)):
            d = next(m.parameters()).device
            (o or diloco).zero_grad()
            nn.functional.cross_entropy(m(x.to(d)), y.to(d)).backward()
        synced.append(diloco.step())
        opt_shadow.step()
    # With outer_lr 1 and no momentum a sync makes every rank's model the ranks' average.
    diff = 0.0
    for p, s in zip(model.parameters(), shadow.parameters()):
        avg = s.detach().clone()
        dist.all_reduce(avg, group=gloo)
        diff = max(diff, float((p.detach().cpu() - avg / world).abs().max()))
    stats = diloco.stats()
    return {"synced": synced, "diff": diff, "syncs": stats["syncs"]}


def killed_mid_allreduce(rank, world, victim):
    dist.init_process_group("crosslink", timeout=datetime.timedelta(seconds=60))
    dev = device()
    t = torch.ones(1024, device=dev)
    dist.all_reduce(t)  # the mesh is up
    big = torch.ones(1 << 23, device=dev)  # 32 MiB: still on the wire when the victim dies
    start = time.monotonic()
    work = dist.all_reduce(big, async_op=True)
    if rank == victim:
        # Dies at once, with its part of the 32 MiB still to send: waiting 50 ms first let the
        # whole allreduce finish over shared memory once it got faster (reduce-on-receive).
        os._exit(3)
    try:
        work.wait()
    except RuntimeError as e:
        return {"error": str(e), "type": type(e).__name__, "seconds": time.monotonic() - start}
    return {"error": None, "seconds": time.monotonic() - start}


def alltoall_vs_gloo(rank, world):
    """all_to_all_single (even and with split sizes) against gloo's on the same inputs, the list
    form all_to_all (gloo 1.13 has none) against the values it must deliver, and bad arguments."""
    gloo = _init()
    dev = device()
    gen = torch.Generator().manual_seed(2000 + rank)
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int32,
                  torch.int64):
        x = torch.randint(-100, 100, (world * 6, 5), generator=gen).to(dtype)
        mine = torch.full_like(x, -7, device=dev)
        ref = torch.full_like(x, -7)
        if dtype == torch.bfloat16:
            # gloo 1.13's alltoall has no bfloat16: its reference moves the same bits as float16.
            dist.all_to_all_single(ref.view(torch.float16), x.view(torch.float16), group=gloo)
        else:
            dist.all_to_all_single(ref, x, group=gloo)
        dist.all_to_all_single(mine, x.to(dev))
        _equal(f"all_to_all_single {dtype}", mine, ref)

    # Uneven: rank r sends (r + j) % 3 rows of 4 to rank j (empty blocks included), so it receives
    # (j + r) % 3 rows from rank j.
    in_splits = [(rank + j) % 3 for j in range(world)]
    out_splits = [(j + rank) % 3 for j in range(world)]
    x = torch.randint(-100, 100, (sum(in_splits), 4), generator=gen).to(torch.float32)
    mine = torch.full((sum(out_splits), 4), -7.0, device=dev)
    ref = torch.full((sum(out_splits), 4), -7.0)
    dist.all_to_all_single(ref, x, out_splits, in_splits, group=gloo)
    dist.all_to_all_single(mine, x.to(dev), out_splits, in_splits)
    _equal("all_to_all_single with splits", mine, ref)
    # Async, with its future.
    mine = torch.full((sum(out_splits), 4), -7.0, device=dev)
    work = dist.all_to_all_single(mine, x.to(dev), out_splits, in_splits, async_op=True)
    work.wait(datetime.timedelta(seconds=60))
    _equal("async all_to_all_single", mine, ref)

    # List form: rank r sends j + 1 values of 100 r + j to rank j and gets r + 1 values of
    # 100 j + r from rank j.
    inputs = [torch.full((j + 1,), 100.0 * rank + j, device=dev) for j in range(world)]
    outputs = [torch.full((rank + 1,), -1.0, device=dev) for _ in range(world)]
    dist.all_to_all(outputs, inputs)
    for j in range(world):
        _equal(f"all_to_all[{j}]", outputs[j], torch.full((rank + 1,), 100.0 * j + rank))

    errors = {}

    def expect(name, exc_type, fn):
        _expect_error(errors, name, exc_type, fn)

    odd = torch.ones(world * 2 + 1, device=dev)
    expect("indivisible", ValueError,
           lambda: dist.all_to_all_single(torch.empty_like(odd), odd))
    expect("split count", ValueError,
           lambda: dist.all_to_all_single(torch.empty(3, device=dev), torch.ones(3, device=dev),
                                          [1] * (world + 1), [1] * (world + 1)))
    expect("split sum", ValueError,
           lambda: dist.all_to_all_single(torch.empty(world, device=dev),
                                          torch.ones(world, device=dev), [2] * world, [2] * world))
    # (Mixed dtypes never reach the backend: torch raises its own RuntimeError first.)
    expect("uint8", ValueError,
           lambda: dist.all_to_all_single(torch.empty(world, dtype=torch.uint8, device=dev),
                                          torch.ones(world, dtype=torch.uint8, device=dev)))
    expect("list length", ValueError,
           lambda: dist.all_to_all([torch.empty(1, device=dev)], [torch.ones(1, device=dev)]))
    # Every refused call was refused before anything went on the wire: the group still works.
    t = torch.arange(world, dtype=torch.float32, device=dev) + 10 * rank
    out = torch.empty_like(t)
    dist.all_to_all_single(out, t)
    _equal("after the errors", out, torch.tensor([10.0 * j + rank for j in range(world)]))
    _finish()
    return errors


def alltoall_mismatched_splits(rank, world):
    """Rank 1 expects one row more from rank 0 than rank 0 sends it: rank 1's wait raises
    ValueError (ranks disagree on the arguments) naming rank 0, well before the timeout; the
    other ranks either finished (their own exchanges matched) or raise too."""
    dist.init_process_group("crosslink", timeout=datetime.timedelta(seconds=60))
    dev = device()
    in_splits = [2] * world
    out_splits = [3 if (rank == 1 and j == 0) else 2 for j in range(world)]
    x = torch.ones(sum(in_splits), 3, device=dev)
    out = torch.zeros(sum(out_splits), 3, device=dev)
    start = time.monotonic()
    try:
        dist.all_to_all_single(out, x, out_splits, in_splits)
        error, kind = None, None
    except Exception as e:  # noqa: B902
        error, kind = str(e), type(e).__name__
    seconds = time.monotonic() - start
    dist.destroy_process_group()
    return {"error": error, "type": kind, "seconds": seconds}
