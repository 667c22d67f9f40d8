"""What the processes of a DDP fit agree on between steps: when to stop on a signal.

A SIGTERM (sent by `timeout`, a scheduler, a CI runner) or a Ctrl-C reaches the processes of a DDP fit at
different points of their steps, or reaches one of them only. Lightning's own SIGTERM handler broadcasts a
tensor from inside the handler, at whatever point each process happens to be: that broadcast can pair with
another collective (a gradient all-reduce, the epoch's sums) and hang until the NCCL timeout, and a process
that stops alone leaves the others waiting for it (under gloo: "Connection closed by peer", a traceback, exit 1).
`AgreedStop` takes SIGINT and SIGTERM over for the training loop: the handler only notes the signal, and the
processes agree, all at the same step, whether one of them got one; then every process stops there together,
through the handler that was in place before the fit (the CLI's: KeyboardInterrupt, so `TrainingInterrupted`
and exit 130 / 143), with the checkpoint of the last completed epoch on disk. A single process keeps Lightning's
and the CLI's handlers.

BatchNorm's running statistics need nothing here: each process updates them from its own share of a training
step, but DDP (broadcast_buffers, its default) sends rank 0's buffers at the start of the first forward pass
after a training one, the validation pass's, so every process validates on rank 0's statistics, those saved
and tested (tests/test_ddp.py compares the validation loss with rank 0's test loss).
"""

from __future__ import annotations

import signal
import threading

import pytorch_lightning as pl
import torch
import torch.distributed as dist

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How often (in training steps) the processes agree on a noted signal. Agreeing is a host sync: the flag's
# all-reduce is read back to decide, so the CPU waits for the GPU to drain its queue and the next step's
# launches no longer overlap the current step's kernels. Once every 8 steps costs at most an eighth of a step's
# overlap, and keeps the wait for a stop short: at the CNN's goal on one H200 (80 epochs of 49 steps in 30 s)
# 8 steps are about 60 ms, on a CPU a few seconds, well inside a scheduler's grace period (SLURM's KillWait: 30 s).
# Each epoch's start and the end of training are checked too.
CHECK_EVERY = 8


def agreed_signal(flag: torch.Tensor, noted: int) -> int:
    """The largest signal number that any process noted (0: none), the same on every process.

    `flag`: a one-element integer tensor on this process's device, reused so that no step builds a tensor from
    a host value; `fill_` takes `noted` as a kernel argument. A collective: every process must call it at the
    same point of the fit.
    """
    flag.fill_(noted)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return int(flag.item())


class AgreedStop(pl.Callback):
    """Under DDP, stop every process at the same step on SIGINT or SIGTERM (see the module's docstring).

    Made before `trainer.fit`, so that it knows the handlers in place before Lightning adds its own. It takes
    the signals over at the start of training; Lightning's teardown puts the earlier handlers back. Between
    Lightning's registration of its handler and the start of training (the processes' barrier, the loaders'
    set-up) Lightning's handler is still the one in place. A signal noted after the last agreement, as the fit
    ends, is handed on by `hand_on` once the fit has returned, in that process alone.
    """

    def __init__(self):
        self.before = {signum: signal.getsignal(signum) for signum in SIGNALS}
        self.noted = 0  # the first signal this process got, 0 for none
        self.active = False  # taken over and not yet stopped
        self.flag: torch.Tensor | None = None

    def note(self, signum: int, frame) -> None:
        """The handler while taken over: note the first signal only; acting on it waits for the agreement."""
        self.noted = self.noted or signum

    def on_train_start(self, trainer, pl_module) -> None:
        if trainer.world_size < 2 or threading.current_thread() is not threading.main_thread():
            return  # one process: nothing to agree on; off the main thread Python cannot set handlers
        self.flag = torch.zeros(1, dtype=torch.int32, device=trainer.strategy.root_device)
        for signum, handler in self.before.items():
            if handler is not signal.SIG_IGN:  # an ignored signal (a background job's SIGINT) stays ignored
                signal.signal(signum, self.note)
        self.active = True

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.check()  # the previous epoch is checkpointed by now: a stop here loses no step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        # Every process runs the same number of batches per epoch (the samplers shard exactly), so the same
        # batch_idx is the same step everywhere.
        if (batch_idx + 1) % CHECK_EVERY == 0:
            self.check()

    def on_train_end(self, trainer, pl_module) -> None:
        self.check()

    def check(self) -> None:
        """Agree with the other processes; if any noted a signal, stop this one now (they all do)."""
        if self.active and (signum := agreed_signal(self.flag, self.noted)):
            self.stop(signum)

    def stop(self, signum: int) -> None:
        """Act on `signum` as the handler before the fit would have (the CLI's raises KeyboardInterrupt, which
        Lightning turns into a clean shutdown); raise KeyboardInterrupt where that handler does not."""
        self.active = False
        handler = self.before.get(signum)
        if callable(handler):
            handler(signum, None)
        raise KeyboardInterrupt

    def hand_on(self) -> None:
        """After a fit that ended without stopping: act on a signal noted after the last agreement."""
        if self.active and self.noted:
            self.stop(self.noted)

