"""Other processes' load: measured around a timing, and turned into advice on torch's thread count."""

import time

from reportgen.machine_load import BUSY_CORES, LoadMeter, is_busy, other_load, thread_advice, timed_with_load


def test_a_timing_returns_its_result_and_a_load_that_is_a_number_of_cores():
    result, load = timed_with_load(lambda: time.sleep(0.05) or "done")
    assert result == "done"
    assert load is None or load >= 0.0
    assert other_load(0.01) is None or other_load(0.01) >= 0.0


def test_threads_that_other_processes_starve_get_advice_with_the_count_that_fits():
    advice = thread_advice(threads=2, load=1.2, cores=2)
    assert advice == ("other processes use 1.2 of 2 CPU cores: 2 torch threads may crawl; "
                      "--set train.num_threads=1 runs faster on this machine now")


def test_no_advice_on_an_idle_machine_for_one_thread_or_an_unknown_load():
    assert thread_advice(threads=2, load=BUSY_CORES / 2, cores=2) is None
    assert thread_advice(threads=1, load=1.9, cores=2) is None
    assert thread_advice(threads=2, load=None, cores=2) is None
    assert thread_advice(threads=4, load=1.0, cores=16) is None  # enough free cores for every thread


def test_a_meter_measures_a_span_between_two_points():
    meter = LoadMeter()
    time.sleep(0.02)
    first = meter.cores()
    assert first is None or first >= 0.0


def test_one_busy_or_unknown_span_makes_the_timings_busy():
    assert not is_busy([0.0, BUSY_CORES / 2])
    assert is_busy([0.0, BUSY_CORES * 2])
    assert is_busy([0.0, None])  # a timing that cannot be shown idle is no evidence
