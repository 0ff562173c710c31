"""Crosslink from Python: contact-aware, outage-surviving collectives for torch.distributed.

``import crosslink.torch`` registers the "crosslink" torch.distributed backend; then
``torch.distributed.init_process_group("crosslink")`` is the one line that moves a DDP script
onto Crosslink. See crosslink.torch for the options, statistics and DiLoCo.
"""

__all__ = ["torch"]
