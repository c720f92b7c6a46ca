"""The end of a server stall, from a request it held: bracketed, never taken from the send alone."""

from support.clock import Moment
from support.snapshots import stall_ended


def test_an_answer_within_the_normal_time_means_no_stall():
    assert stall_ended(Moment(10.0, 10.0), Moment(10.05, 10.05), normal=0.1) is None


def test_a_held_answer_brackets_the_stall_end_just_before_it():
    ended = stall_ended(Moment(10.0, 10.0), Moment(12.0, 12.0), normal=0.1)
    assert (ended.earliest, ended.latest) == (11.9, 12.0)


def test_the_stall_end_is_never_put_before_the_request_that_it_held():
    ended = stall_ended(Moment(10.0, 10.0), Moment(10.15, 10.15), normal=0.1)
    assert (ended.earliest, ended.latest) == (10.05, 10.15)
    # A phase that started before the send: its stalled part runs from its own start, not from the send,
    # and the truth (a stall that ended at 10.1) lies within the bracket it reports.
    stalled = Moment(9.9, 9.9).until(ended)
    assert abs(stalled.seconds - (10.1 - 9.9)) <= stalled.uncertainty
