"""The "crosslink" torch.distributed backend against gloo on the same inputs. Each test starts its
ranks as fresh processes joined through env:// (rank_runner.py); about 20 s each on a loaded
2-core machine, most of it importing torch."""

import rank_functions as f
from rank_runner import run_ranks

WORLD = 3


def test_registration_and_every_op_matches_gloo():
    for rank, got in enumerate(run_ranks(WORLD, f.ops_vs_gloo)):
        assert got == {"backend": "crosslink", "rank": rank, "world": WORLD, "attr": "crosslink"}


def test_options_bad_arguments_and_diloco():
    results = run_ranks(2, f.options_and_errors)
    errors = results[0]["errors"]
    # Messages say what was wrong and what is allowed.
    assert "zstd" in errors["compression"] and "bf16" in errors["compression"]
    assert "min_participants" in errors["min_participants type"]
    assert "PRODUCT" in errors["PRODUCT"] and "SUM" in errors["PRODUCT"]
    assert "min_participants" in errors["min_participants > world"]
    assert "crosslink" in errors["not a crosslink group"]
    # DiLoCo with outer_lr 1 and no momentum: the H-th step's sync averages the ranks' models.
    for r in results:
        assert r["diloco"]["synced"] == [False, False, True] and r["diloco"]["syncs"] == 1
        assert r["diloco"]["diff"] <= 1e-5, r


def test_ddp_parameters_equal_gloo_after_steps():
    results = run_ranks(WORLD, f.ddp_vs_gloo, 8)
    for r in results:
        assert r["same_on_ranks"]
        assert r["moved"] > 1e-3  # the steps did train
        assert r["max_diff"] <= 1e-5, r


def test_rank_killed_mid_allreduce_raises_naming_it():
    victim = 2
    results = run_ranks(3, f.killed_mid_allreduce, victim, timeout_s=150, may_die={victim})
    for rank in (0, 1):
        r = results[rank]
        assert r["error"] is not None, f"rank {rank}'s allreduce succeeded without rank {victim}"
        assert r["type"] == "RuntimeError"
        assert f"rank {victim}" in r["error"], r["error"]
        assert r["seconds"] < 60, r  # the group timeout; a dead peer is noticed well before


def test_all_to_all_matches_gloo_and_refuses_bad_arguments():
    results = run_ranks(WORLD, f.alltoall_vs_gloo)
    errors = results[0]
    # Messages say what was wrong.
    assert "does not divide" in errors["indivisible"], errors
    assert "split sizes" in errors["split count"], errors
    assert "add up to" in errors["split sum"], errors
    assert "Byte" in errors["uint8"] or "uint8" in errors["uint8"], errors
    assert "alltoall" in errors["list length"], errors


def test_all_to_all_splits_that_disagree_raise_instead_of_hanging():
    results = run_ranks(WORLD, f.alltoall_mismatched_splits)
    r1 = results[1]
    assert r1["type"] == "ValueError", r1
    assert "rank 0" in r1["error"], r1
    for r in results:
        assert r["seconds"] < 20, r  # the group timeout is 60 s
        assert r["type"] in (None, "ValueError", "RuntimeError"), r
