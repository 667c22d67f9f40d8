"""Rank 0's decisions, handed to the other processes of a multi-process (DDP) build.

Every decision to reuse, resume or train a run is made once, by rank 0, with the run store's locks
held; the other processes follow it. Lightning starts a node's other processes from its rank 0 with
its environment, so they find the plan in `PLAN_ENV`; processes that start on their own (other nodes,
torchrun, srun) read it from a TCP store that rank 0 opens at MASTER_ADDR, port MASTER_PORT + 1, for
as long as the build runs. Importing this module imports no torch (the CLI asks `is_primary_process`).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

from reportgen.errors import ConfigError

PLAN_ENV = "REPORTGEN_RUN_PLAN"  # rank 0's decisions, inherited by the processes Lightning starts from it
_plan_server = []  # rank 0's TCP store of the plan, kept open for the build (processes that start on their own)


def is_primary_process() -> bool:
    """False in the extra processes of a multi-process (DDP) run, which Lightning, torchrun or
    SLURM mark with a non-zero rank in the environment."""
    return all(os.environ.get(name, "0") == "0" for name in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"))


def share_plan(actions: dict[str, str], processes: int, num_nodes: int) -> None:
    """Hand rank 0's decisions ({run folder name: action}) to the build's other processes, before the first
    fit starts them; nothing to do for a single-process build."""
    if processes == 1:
        return
    plan = json.dumps(actions)
    os.environ[PLAN_ENV] = plan
    if _processes_start_on_their_own(num_nodes):
        store = _plan_store(is_server=True)
        store.set("plan", plan)
        _plan_server.append(store)


def receive_plan() -> dict[str, str]:
    """Rank 0's decisions, in a process other than rank 0; waits for them (rank 0 has its data by then)."""
    if PLAN_ENV in os.environ:
        return json.loads(os.environ[PLAN_ENV])
    plan = _plan_store(is_server=False).get("plan").decode()
    os.environ[PLAN_ENV] = plan  # for the processes that Lightning starts from this one (its node's)
    return json.loads(plan)


def _processes_start_on_their_own(num_nodes: int) -> bool:
    return num_nodes > 1 or "TORCHELASTIC_RUN_ID" in os.environ or int(os.environ.get("SLURM_NTASKS", "1")) > 1


def _plan_store(is_server: bool):
    import torch.distributed

    address, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
    if not address or not port:
        raise ConfigError("config key 'train.num_nodes': processes started on several nodes (or by torchrun, srun) "
                          "need MASTER_ADDR and MASTER_PORT set to node 0's address and a free port")
    return torch.distributed.TCPStore(address, int(port) + 1, is_master=is_server, wait_for_workers=False,
                                      timeout=timedelta(hours=2))  # rank 0 may load and decode data for long
