# SPDX-License-Identifier: Apache-2.0
"""The churn stage's checker (tests/faults/run, Churn.verify) on made-up histories: it must find
each kind of violation it claims to, and must not fail histories a correct daemon can produce.
No PostgreSQL or pezd: lives, generations and answers are built by hand."""

import os
import types

import pytest

from harness import load_script

run = load_script(os.path.join(os.path.dirname(os.path.abspath(__file__)), "run"), "faults_run")


class Daemon:
    def __init__(self, name):
        self.name = name
        self.pezd = types.SimpleNamespace(name=name)


def daemon(name):
    return Daemon(name)


D1, D2 = daemon("pezd1"), daemon("pezd2")


class History:
    """One named sequence's admin operations and the answers clients got, then the verdict."""

    def __init__(self, shape):
        self.shape = shape
        self.churn = run.Churn(types.SimpleNamespace(daemons=[D1, D2]), seed=0, seconds=0)
        self.churn.t0 = 0.0
        self.churn.duration = 10.0
        self.life = None
        self.answers = []
        self.churn.records.append(self.answers)

    def op(self, kind, started, acked, via=None, start=None, to=None, mode=None):
        op = run.AdminOp(kind, via, start, to)
        op.started, op.acked = started, acked
        self.churn.ops[self.shape.name].append(op)
        if kind == "create":
            self.life = run.Life(self.shape, mode, op)
            self.life.number = len(self.churn.lives[self.shape.name]) + 1
            self.churn.lives[self.shape.name].append(self.life)
            run.Generation(self.life, op, start)
        elif kind == "reset":
            self.life.generations[-1].end_op = op
            run.Generation(self.life, op, self.life.create.start if to is None else to)
        else:
            self.life.generations[-1].end_op = op
            self.life.drop = op
            self.life = None
        return self

    def ok(self, d, start, end, *numbers):
        self.answers.append(run.Answer(self.shape.name, d, "http", start, end, len(numbers), "ok", list(numbers),
                                       "GET"))
        return self

    def refused(self, d, start, end, kind, count=1):
        self.answers.append(run.Answer(self.shape.name, d, "socket", start, end, count, kind, [], "NEXT"))
        return self

    def violations(self):
        found = {}
        stats = __import__("collections").Counter()
        answers = sorted(self.answers, key=lambda a: a.start)
        self.churn.verify_name(self.shape, answers, lambda kind, text: found.setdefault(kind, []).append(text), stats)
        return found, stats


UP = run.SHAPE_OF["churn-up"]
STEP = run.SHAPE_OF["churn-step"]
TINY = run.SHAPE_OF["churn-tiny"]
RING = run.SHAPE_OF["churn-ring"]
RINGDOWN = run.SHAPE_OF["churn-ringdown"]
V1, V2, V3 = UP.lane(3, 0), UP.lane(7, 5), UP.lane(11, 9)


def lanes():
    return History(UP).op("create", 0.0, 0.1, via=D1, start=V1).op("reset", 2.0, 2.1, via=D1, start=V2, to=V2)


def test_a_correct_history_passes():
    h = lanes().ok(D1, 0.2, 0.3, V1, V1 + 1).ok(D2, 0.4, 0.5, V1 + 2).ok(D1, 2.2, 2.3, V2, V2 + 1)
    h.ok(D2, 2.2, 2.3, V1 + 3)  # another daemon, within the settle time: still the old generation
    h.ok(D2, 1.9, 2.05, V2 + 2)  # overlapping the reset: either
    found, stats = h.violations()
    assert found == {} and stats["duplicates"] == 0


def test_numbers_again_after_a_reset_are_no_duplicates():
    h = History(TINY).op("create", 0.0, 0.1, via=D1, start=1).op("reset", 2.0, 2.1, via=D1, start=1)
    h.ok(D1, 0.2, 0.3, 1, 2, 3).ok(D1, 2.2, 2.3, 1, 2, 3)
    assert h.violations()[0] == {}


def test_duplicate_within_a_generation():
    found, stats = lanes().ok(D1, 0.2, 0.3, V1 + 1).ok(D2, 0.4, 0.5, V1 + 1).violations()
    assert list(found) == ["duplicate"] and stats["duplicates"] == 1


def test_old_generation_from_the_resetting_daemon():
    found, _ = lanes().ok(D1, 2.15, 2.2, V1 + 5).violations()
    assert list(found) == ["stale_generation"]


def test_old_generation_from_another_daemon_after_the_settle_time():
    found, _ = lanes().ok(D2, 3.2, 3.3, V1 + 5).violations()
    assert list(found) == ["stale_generation"]


def test_old_life_after_drop_and_create():
    h = lanes().op("drop", 4.0, 4.1, via=D2).op("create", 4.2, 4.3, via=D2, start=V3)
    found, _ = h.ok(D2, 4.4, 4.5, V2 + 3).violations()
    assert list(found) == ["stale_life"]


def test_number_while_the_sequence_does_not_exist():
    h = lanes().op("drop", 4.0, 4.1, via=D2)
    found, _ = h.ok(D2, 4.4, 4.5, V3).violations()
    assert list(found) == ["number_while_absent"]


def test_off_the_step():
    h = History(STEP).op("create", 0.0, 0.1, start=5)
    found, _ = h.ok(D1, 0.2, 0.3, 5 + STEP.step, 6 + 2 * STEP.step).violations()
    assert list(found) == ["off_path"]


def test_out_of_bounds_and_order():
    h = History(TINY).op("create", 0.0, 0.1, start=290)
    found, _ = h.ok(D1, 0.2, 0.3, 300, 301).ok(D1, 0.4, 0.5, 295, 294).violations()
    assert set(found) == {"out_of_bounds", "order_in_answer"}


def test_an_ambiguous_answer_is_a_duplicate_when_it_is_one_either_way():
    h = History(TINY).op("create", 0.0, 0.1, via=D1, start=1).op("reset", 2.0, 2.1, via=D1, start=1)
    h.ok(D1, 0.2, 0.3, 5).ok(D1, 2.2, 2.3, 5)
    h.ok(D2, 1.9, 2.05, 5)  # of the first or the second generation: in both 5 came already
    h.ok(D2, 1.9, 2.05, 6)  # 6 came in neither: fine
    found, stats = h.violations()
    assert list(found) == ["duplicate"] and stats["duplicates"] == 1 and stats["ambiguous"] == 2


def test_not_found_only_while_absent():
    h = History(TINY).refused(D1, -1.0, 0.05, "not_found").op("create", 0.0, 0.1, via=D1, start=1)
    h.refused(D2, 0.5, 0.6, "not_found")  # D2 hears of the create within the settle time
    assert h.violations()[0] == {}
    h.refused(D1, 0.5, 0.6, "not_found")  # D1 made it
    h.refused(D2, 1.5, 1.6, "not_found")
    found, _ = h.violations()
    assert list(found) == ["not_found_while_existing"] and len(found["not_found_while_existing"]) == 2


def test_exhausted():
    h = History(RING).op("create", 0.0, 0.1, start=10).refused(D1, 0.2, 0.3, "exhausted")
    assert list(h.violations()[0]) == ["exhausted_with_cycle"]
    h = History(TINY).op("create", 0.0, 0.1, start=281, mode="strict")
    h.ok(D1, 0.2, 0.3, *range(281, 291)).refused(D1, 0.4, 0.5, "exhausted", count=11)
    assert h.violations()[0] == {}  # 11 asked for, 10 left: refused rightly
    h.refused(D2, 0.6, 0.7, "exhausted", count=10)  # 10 asked for, 10 left
    found, _ = h.violations()
    assert list(found) == ["exhausted_too_early"]
    h.ok(D1, 0.8, 0.9, *range(291, 301))
    assert h.violations()[0] == {}


def test_exhausted_not_judged_when_a_failed_exchange_may_have_burned_numbers():
    h = History(TINY).op("create", 0.0, 0.1, start=281, mode="strict")
    h.refused(D1, 0.4, 0.5, "exhausted", count=1).refused(D2, 0.3, 0.45, "unavailable", count=20)
    found, stats = h.violations()
    assert found == {} and stats["exhaustion_unchecked"] == 1


@pytest.mark.parametrize("asked_between, duplicate", [(0, True), (88, True), (89, False)])
def test_a_strict_ring_repeats_a_number_only_after_a_whole_pass(asked_between, duplicate):
    # 90 numbers per pass: 50 twice needs the 89 others and the second 50 taken in between.
    h = History(RING).op("create", 0.0, 0.1, start=50, mode="strict")
    h.ok(D1, 0.2, 0.3, 50).ok(D2, 0.5, 0.6, 50)
    if asked_between:
        h.refused(D1, 0.35, 0.45, "unavailable", count=asked_between)
    found, stats = h.violations()
    assert (list(found) == ["duplicate"]) == duplicate and stats["duplicates"] == int(duplicate)


def test_one_strict_ring_answer_spans_no_more_than_was_asked():
    h = History(RING).op("create", 0.0, 0.1, start=50, mode="strict")
    found, _ = h.ok(D1, 0.2, 0.3, 98, 99, 10, 11).violations()
    assert found == {}
    h = History(RING).op("create", 0.0, 0.1, start=50, mode="strict")
    found, _ = h.ok(D1, 0.4, 0.5, 98, 99, 12).violations()  # 12 after 99: 2 numbers left out
    assert list(found) == ["order_in_answer"]


def test_a_block_mode_ring_may_repeat_across_a_wrap_in_one_answer():
    h = History(RINGDOWN).op("create", 0.0, 0.1, start=500, mode="block")
    found, _ = h.ok(D1, 0.2, 0.3, 500, 493, 500).violations()
    assert found == {}


def test_lanes_are_far_apart():
    for shape in run.CHURN_SHAPES:
        if shape.lanes:
            assert shape.lane_count() > 1000
            last = shape.lane(shape.lane_count() - 1, 1000 * shape.step - 1)
            assert shape.lo <= last <= shape.hi
            assert shape.fits(last, last + shape.increment * (run.LANE_REACH - 1))
            assert not shape.fits(shape.lane(0, 0), shape.lane(1, 0))
