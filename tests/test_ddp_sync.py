"""reportgen.ddp_sync on two gloo processes of this machine: a signal that reaches one process stops both at the
same step, through the handler in place before the fit; a single process keeps its handlers."""

import multiprocessing
import os
import signal
import types

import pytest
import torch

from reportgen.ddp_sync import CHECK_EVERY, AgreedStop

SIGNALLED_AT = 3  # the step after which rank 1 gets SIGTERM
STEPS = 4 * CHECK_EVERY


def fake_trainer(world_size: int):
    return types.SimpleNamespace(world_size=world_size, strategy=types.SimpleNamespace(root_device=torch.device("cpu")))


def two_processes(rank: int, store: str, results) -> None:
    """One process of the pair: a training loop of STEPS steps under AgreedStop."""
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    received = []

    def before(signum, frame):  # stands in for the CLI's handler
        received.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, before)
    stop = AgreedStop()
    trainer = fake_trainer(2)
    stop.on_train_start(trainer, None)
    stopped_at = None
    try:
        stop.on_train_epoch_start(trainer, None)
        for step in range(STEPS):
            if rank == 1 and step == SIGNALLED_AT:
                os.kill(os.getpid(), signal.SIGTERM)  # noted only: this process goes on to the agreed step
            stopped_at = step
            stop.on_train_batch_end(trainer, None, None, None, step)
        stopped_at = None
    except KeyboardInterrupt:
        pass
    results.put((rank, stopped_at, received))
    torch.distributed.destroy_process_group()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """{rank: (the step it stopped at, the signals its earlier handler got)}."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    store = tmp_path_factory.mktemp("gloo") / "store"
    processes = [context.Process(target=two_processes, args=(rank, str(store), results)) for rank in (0, 1)]
    for process in processes:
        process.start()
    found = {}
    try:
        for _ in processes:
            rank, *rest = results.get(timeout=120)
            found[rank] = rest
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    return found


@pytest.mark.e2e  # two processes, each importing torch and Lightning
def test_a_signal_to_one_process_stops_both_at_the_same_agreed_step(pair):
    first_check_after_the_signal = CHECK_EVERY - 1  # batch_idx 7: the end of the 8th step
    assert pair[0][0] == pair[1][0] == first_check_after_the_signal
    # Each process acts through the handler in place before the fit, with the signal that was sent: rank 0's
    # CLI then says SIGTERM and exits 143 although the signal reached rank 1 alone.
    assert pair[0][1] == pair[1][1] == [signal.SIGTERM]


def test_a_single_process_keeps_its_handlers_and_never_waits_for_others():
    stop = AgreedStop()
    before = signal.getsignal(signal.SIGTERM)
    stop.on_train_start(fake_trainer(1), None)
    assert signal.getsignal(signal.SIGTERM) is before and not stop.active
    stop.noted = signal.SIGTERM
    stop.check()  # no collective outside DDP: it would fail without a process group
    stop.hand_on()


def test_an_ignored_signal_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        stop = AgreedStop()
        stop.on_train_start(fake_trainer(2), None)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) == stop.note and stop.active
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, stop.before[signal.SIGTERM])


def test_a_signal_noted_after_the_last_agreement_is_handed_on_when_the_fit_ends():
    stop = AgreedStop()
    stop.active, stop.noted = True, signal.SIGTERM
    with pytest.raises(KeyboardInterrupt):
        stop.hand_on()
    assert not stop.active
