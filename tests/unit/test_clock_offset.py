"""Epoch times converted from the monotonic clock are right to within the uncertainty measured for them."""

from __future__ import annotations

import time

from support.clock import _measure_epoch_offset


def test_the_epoch_offset_brackets_a_reading_of_both_clocks():
    offset, uncertainty = _measure_epoch_offset()
    before = time.monotonic()
    epoch = time.time()
    after = time.monotonic()
    # The epoch was read between the two monotonic reads: converted, they bracket it, give or take the
    # offset's own uncertainty (a step of the system clock in between would break this, and should).
    assert offset + before - uncertainty <= epoch <= offset + after + uncertainty
    assert uncertainty >= 0
