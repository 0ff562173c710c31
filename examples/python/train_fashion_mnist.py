#!/usr/bin/python3
"""Fashion-MNIST with plain torch DistributedDataParallel, on Crosslink or on gloo.

The same CNN, data, optimiser and sharding as examples/fashion_mnist (the C++ example); the
backend is one argument of init_process_group. Launch it with any of:

  crosslink-run -n 4 --scenario bench/scenarios/starlink-shell1-faults.toml -- \
      /usr/bin/python3 examples/python/train_fashion_mnist.py
  /usr/bin/python3 -m torch.distributed.run --nproc-per-node 4 \
      examples/python/train_fashion_mnist.py --backend crosslink
  RANK=.. WORLD_SIZE=4 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 /usr/bin/python3 ... (env://)
  /usr/bin/python3 examples/python/train_fashion_mnist.py --spawn 4   (torch.multiprocessing)

PYTHONPATH must reach the crosslink package (build/python); the script adds it when run from a
checkout. Rank 0 prints per-epoch figures on stderr and, last on stdout,
  final test_accuracy=<f> outages=<n> wall_s=<s> membership_changes=0
plus a line "step_time_s=<mean seconds per training step, first epoch's first 5 steps left out>".
"""

import argparse
import datetime
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for _candidate in (os.path.join(_REPO, "build", "python"), os.path.join(_REPO, "build-gpu", "python")):
    if os.path.isdir(os.path.join(_candidate, "crosslink")) and _candidate not in sys.path:
        sys.path.append(_candidate)

# Fashion-MNIST's training-set pixel mean and standard deviation (as idx_dataset.cc).
PIXEL_MEAN = 0.2860
PIXEL_STD = 0.3530


class FashionCnn(nn.Module):
    """fashion_cnn.h: two 5x5 convolutions with max-pooling, then two fully connected layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 5, padding=2)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def read_idx(path, limit=0):
    """A gzipped IDX file as a numpy array; bounds the header before trusting it."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found (Debian's dataset-fashion-mnist, or --data DIR)")
    with gzip.open(path, "rb") as f:
        header = f.read(4)
        if len(header) != 4 or header[0] != 0 or header[1] != 0 or header[2] != 8 or \
                not 1 <= header[3] <= 4:
            raise ValueError(f"{path} is not an IDX file of unsigned bytes")
        dims = [int.from_bytes(f.read(4), "big") for _ in range(header[3])]
        if any(d <= 0 or d > 10_000_000 for d in dims):
            raise ValueError(f"{path}: implausible dimensions {dims}")
        if limit:
            dims[0] = min(dims[0], limit)
        count = int(np.prod(dims))
        data = f.read(count)
        if len(data) != count:
            raise ValueError(f"{path}: {len(data)} bytes of data, header says {count}")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def load(data_dir, prefix, limit=0):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"), limit)
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"), limit)
    x = torch.from_numpy(images.astype(np.float32) / 255.0).sub_(PIXEL_MEAN).div_(PIXEL_STD)
    return x.unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def sum_over_ranks(values, device):
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def evaluate(model, images, labels, rank, world, device):
    model.eval()
    correct, total = 0.0, 0.0
    index = torch.arange(rank, images.shape[0], world)
    with torch.no_grad():
        for begin in range(0, index.numel(), 500):
            part = index[begin:begin + 500]
            prediction = model(images[part].to(device)).argmax(1).cpu()
            correct += float(prediction.eq(labels[part]).sum())
            total += part.numel()
    model.train()
    correct, total = sum_over_ranks([correct, total], device)
    return correct / total if total else 0.0


def train(args, rank, world, exit_when_done=False):
    if args.backend == "crosslink":
        import crosslink.torch  # noqa: F401  (registers the backend)
    if args.device == "cuda":
        local = int(os.environ.get("LOCAL_RANK", rank))
        device = torch.device("cuda", local % torch.cuda.device_count())
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    torch.set_num_threads(args.threads)

    dist.init_process_group(args.backend, timeout=datetime.timedelta(seconds=args.timeout))
    rank, world = dist.get_rank(), dist.get_world_size()
    leader = rank == 0

    train_x, train_y = load(args.data, "train", args.train_limit)
    test_x, test_y = load(args.data, "t10k", args.test_limit)
    torch.manual_seed(args.seed)
    model = FashionCnn().to(device)
    # DDP broadcasts rank 0's parameters at construction: every rank starts alike.
    ddp = nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.Adam(ddp.parameters(), lr=args.lr)

    per_rank = train_x.shape[0] // world
    steps = (per_rank + args.batch - 1) // args.batch
    if leader:
        print(f"train_fashion_mnist.py: {world} ranks, backend {args.backend} on {device}, "
              f"{train_x.shape[0]} training examples ({steps} steps of {args.batch} per rank "
              f"per epoch), scenario {os.environ.get('CROSSLINK_SCENARIO') or 'none (ideal)'}",
              file=sys.stderr, flush=True)

    test_accuracy, outages = 0.0, 0
    step_times = []
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        generator = torch.Generator().manual_seed(args.seed * 1000003 + epoch)
        shard = torch.randperm(train_x.shape[0], generator=generator)[:per_rank * world]
        shard = shard.view(per_rank, world)[:, rank].contiguous()
        loss_sum, correct, seen = 0.0, 0.0, 0.0
        for step in range(steps):
            t0 = time.perf_counter()
            index = shard[step * args.batch:(step + 1) * args.batch]
            images, labels = train_x[index].to(device), train_y[index].to(device)
            optimizer.zero_grad()
            logits = ddp(images)
            loss = F.cross_entropy(logits, labels)
            loss.backward()  # DDP's bucketed allreduces run here, overlapping backward
            optimizer.step()
            loss_sum += float(loss) * index.numel()
            correct += float(logits.argmax(1).eq(labels).sum())
            seen += index.numel()
            if epoch > 1 or step >= 5:
                step_times.append(time.perf_counter() - t0)
        mine = 0
        if args.backend == "crosslink":
            mine = crosslink.torch.last_stats()["outages_total"]
        loss_sum, correct, seen, total_outages = sum_over_ranks(
            [loss_sum, correct, seen, float(mine)], device)
        outages = int(total_outages)
        test_accuracy = evaluate(ddp, test_x, test_y, rank, world, device)
        if leader:
            print(f"epoch {epoch}: loss {loss_sum / seen:.4f} train_acc {correct / seen:.4f} "
                  f"test_acc {test_accuracy:.4f} wall_s {time.perf_counter() - start:.1f} "
                  f"outages {outages}", file=sys.stderr, flush=True)
    wall_s = time.perf_counter() - start
    mean_step = sum(step_times) / max(len(step_times), 1)
    dist.barrier()
    if leader:
        print(f"step_time_s={mean_step:.6f}", flush=True)
        # membership_changes: as the C++ example prints it; this script is not elastic, so 0.
        print(f"final test_accuracy={test_accuracy:.4f} outages={outages} wall_s={wall_s:.1f} "
              "membership_changes=0", flush=True)
    dist.destroy_process_group()
    if exit_when_done:
        # A --spawn child leaves here, while `ddp` still lives: torch 1.13's ~Reducer destroying a
        # ProcessGroupGloo at this function's return once deadlocked (the group's worker thread
        # waiting on its lock, the destructor joining it), leaving an orphan child spinning for
        # an hour and CI's 240 s limit missed. Nothing is left to do but exit.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def spawned(local_rank, args, world, port):
    os.environ.update(RANK=str(local_rank), LOCAL_RANK=str(local_rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    train(args, local_rank, world, exit_when_done=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["crosslink", "gloo"], default="crosslink")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64, help="examples per rank per step")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--train-limit", type=int, default=0, help="first N examples (0: all)")
    parser.add_argument("--test-limit", type=int, default=0, help="first N test examples (0: all)")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist",
                        help="folder with the four Fashion-MNIST .gz IDX files")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    parser.add_argument("--timeout", type=float, default=300, help="collective timeout, seconds")
    parser.add_argument("--scenario", default="",
                        help="scenario file when no launcher names one (sets CROSSLINK_SCENARIO)")
    parser.add_argument("--spawn", type=int, default=0,
                        help="start N local ranks with torch.multiprocessing (no launcher)")
    args = parser.parse_args()
    for name in ("epochs", "batch", "train_limit", "test_limit", "threads", "spawn"):
        if getattr(args, name) < (0 if name in ("train_limit", "test_limit", "spawn") else 1):
            parser.error(f"--{name.replace('_', '-')} is out of range")
    if args.scenario and not os.environ.get("CROSSLINK_SCENARIO"):
        os.environ["CROSSLINK_SCENARIO"] = os.path.abspath(args.scenario)
    if args.spawn:
        import socket
        import torch.multiprocessing as mp
        with socket.socket() as s:  # a free port for torch's TCPStore
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        mp.spawn(spawned, args=(args, args.spawn, port), nprocs=args.spawn, join=True)
        return
    if "RANK" not in os.environ:
        parser.error("no launcher's RANK/WORLD_SIZE: use torchrun, crosslink-run or --spawn N")
    train(args, int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]))


if __name__ == "__main__":
    main()
