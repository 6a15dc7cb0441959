"""Expectations: the guard against creating (or deleting) the same pods twice."""

from __future__ import annotations

from minik.client.clock import FakeClock
from minik.controllers.expectations import Expectations


def test_expectations_block_until_observed() -> None:
    clock = FakeClock()
    exp = Expectations(clock=clock)
    assert exp.satisfied("ns/rs")  # never recorded
    exp.expect_creations("ns/rs", 3)
    assert not exp.satisfied("ns/rs")
    exp.creation_observed("ns/rs")
    exp.creation_observed("ns/rs")
    assert not exp.satisfied("ns/rs")
    assert exp.pending("ns/rs") == (1, 0)
    exp.creation_observed("ns/rs")
    assert exp.satisfied("ns/rs")


def test_expectations_deletions_are_tracked_by_pod() -> None:
    exp = Expectations(clock=FakeClock())
    exp.expect_deletions("ns/rs", ["ns/a", "ns/b"])
    exp.deletion_observed("ns/rs", "ns/other")  # not one we asked for
    assert exp.pending("ns/rs") == (0, 2)
    exp.deletion_observed("ns/rs", "ns/a")
    exp.deletion_observed("ns/rs", "ns/a")  # seen twice (deletionTimestamp, then DELETED)
    assert not exp.satisfied("ns/rs")
    exp.deletion_observed("ns/rs", "ns/b")
    assert exp.satisfied("ns/rs")


def test_creations_and_deletions_at_once_both_have_to_be_seen() -> None:
    exp = Expectations(clock=FakeClock())
    exp.expect("ns/ds", 1, ["ns/old"])
    exp.creation_observed("ns/ds")
    assert not exp.satisfied("ns/ds")  # the deletion is still outstanding
    exp.deletion_observed("ns/ds", "ns/old")
    assert exp.satisfied("ns/ds")


def test_a_new_record_replaces_the_old_one_and_other_owners_are_separate() -> None:
    exp = Expectations(clock=FakeClock())
    exp.expect_creations("ns/a", 2)
    exp.expect_deletions("ns/a", ["ns/p"])
    assert exp.pending("ns/a") == (0, 1)
    exp.creation_observed("ns/b")  # no record for b: nothing happens
    assert exp.pending("ns/b") == (0, 0) and exp.satisfied("ns/b")


async def test_expectations_expire_and_failed_creates_lower_them() -> None:
    clock = FakeClock()
    exp = Expectations(clock=clock, ttl=300)
    exp.expect_creations("ns/rs", 5)
    exp.lower_creations("ns/rs", 2)
    assert exp.pending("ns/rs") == (3, 0)
    await clock.advance(299)
    assert not exp.satisfied("ns/rs")
    await clock.advance(2)
    assert exp.satisfied("ns/rs")  # a lost watch event cannot wedge the controller
    exp.delete("ns/rs")
    assert exp.pending("ns/rs") == (0, 0)
