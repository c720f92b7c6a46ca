"""behave's pretty formatter, with the feature header printed once.

behave 1.3's pretty formatter prints a feature's tags and header when the feature starts and keeps the
feature as the statement to print next; a Background then "replays" that statement, so every feature
with a Background (the instance, failover and snapshot journeys) showed its header twice, the second
time indented among the scenarios. Registered in behave.ini under behave's own name, ``pretty``, so
that ``behave``, ``behave -f pretty`` and the parallel runner's workers all print it once.

The feature's description also ends its line here: behave leaves it open, so whatever came next (the
next feature's tags, once) ran into it.
"""

from __future__ import annotations

from behave.formatter.pretty import PrettyFormatter as _PrettyFormatter


class PrettyFormatter(_PrettyFormatter):
    def feature(self, feature):
        super().feature(feature)
        if feature.description:
            self.stream.write("\n")

    def background(self, background):
        if self.statement is self.current_feature:
            self.statement = None           # feature() has printed it already
        super().background(background)
