"""Seeded durations: a machine's times do not depend on what else the sandbox is doing."""
from sandbox.clock import Timings


def test_an_offers_boot_times_are_the_same_whatever_is_drawn_beside_them():
    alone = Timings(seed=2026)
    among_others = Timings(seed=2026)
    boots_alone = [alone.draw("boot", "offer 5") for _ in range(3)]
    boots_among_others = []
    for _ in range(3):
        among_others.draw("boot", "offer 1")           # another journey's machine
        among_others.draw("pause", "offer 5")           # the same machine paused
        boots_among_others.append(among_others.draw("boot", "offer 5"))
    assert boots_among_others == boots_alone
    assert len(set(boots_alone)) == 3                   # still drawn, not one fixed value
    assert Timings(seed=7).draw("boot", "offer 5") != boots_alone[0]
