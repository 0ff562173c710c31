"""examples/python/train_fashion_mnist.py launched as a user would: by crosslink-run over a faulty
scenario, by hand with env:// variables, and with torch.multiprocessing (--spawn). A short run
(4096 training examples, one epoch) so that the three take about a minute on two cores."""

import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "examples", "python", "train_fashion_mnist.py")
DATA = os.environ.get("CROSSLINK_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
SHORT = ["--epochs", "1", "--train-limit", "4096", "--test-limit", "2000", "--data", DATA]
FINAL = re.compile(r"^(?:\[rank 0\] )?final test_accuracy=([0-9.]+) outages=(\d+) wall_s=([0-9.]+)"
                   r" membership_changes=0$")

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")),
                                reason=f"no Fashion-MNIST in {DATA} (dataset-fashion-mnist)")


def final_line(stdout):
    lines = stdout.strip().splitlines()
    assert lines, "no output"
    match = FINAL.match(lines[-1])
    assert match, f"last line is not the final line: {lines[-1]!r}"
    return float(match.group(1)), int(match.group(2)), float(match.group(3))


def run(cmd, env=None, timeout=240):
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd} exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.mark.skipif(not os.environ.get("CROSSLINK_RUN"), reason="CROSSLINK_RUN not set (ctest sets it)")
def test_crosslink_run_over_a_faulty_scenario():
    scenario = os.path.join(REPO, "bench", "scenarios", "starlink-shell1-faults.toml")
    stdout = run([os.environ["CROSSLINK_RUN"], "-n", "2", "--scenario", scenario, "--",
                  sys.executable, SCRIPT, *SHORT])
    accuracy, outages, wall_s = final_line(stdout)
    assert accuracy > 0.5 and outages >= 0 and wall_s > 0


def test_env_launch_and_spawn_train_alike():
    """By hand with env:// (crosslink) and with --spawn (gloo): same data, same model, same
    arithmetic up to the order of float sums, so the same accuracy within a few test images."""
    env = dict(os.environ, WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    procs = [subprocess.Popen([sys.executable, SCRIPT, "--backend", "crosslink", *SHORT],
                              env=dict(env, RANK=str(r), LOCAL_RANK=str(r)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(2)]
    outputs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=240)
            assert p.returncode == 0, err[-3000:]
            outputs.append(out)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    crosslink_accuracy, outages, _ = final_line(outputs[0])
    assert outages == 0 and outputs[1].strip() == ""  # only rank 0 prints
    gloo_accuracy, _, _ = final_line(run([sys.executable, SCRIPT, "--backend", "gloo",
                                          "--spawn", "2", *SHORT]))
    assert crosslink_accuracy > 0.5
    assert abs(crosslink_accuracy - gloo_accuracy) <= 0.005


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
