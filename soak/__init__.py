"""The soak: seeded random faults, interrupts and load against the sandbox, each run judged by its truth.

``python -m soak --runs N --seed S`` (``make soak``) runs N journeys, each as the suite's users run
one (``python -m behave <feature>``) against a sandbox of its own, with a schedule drawn from
``(seed, run)`` alone: faults at moments of the journey, sometimes an interrupt (SIGINT, SIGTERM or
SIGKILL, then the sweep), sometimes CPU-bound processes beside it. Each run is then judged against
the sandbox's ground truth (what is alive, what was billed, when things happened), never against the
suite's own word, and the soak writes ``<reports>/soak/summary.json`` and prints a table.

One module per job:

* :mod:`soak.catalogue` — the journeys, the moments a fault can be tied to, and every fault kind with
  how to draw one (and whether it may make the journey impossible);
* :mod:`soak.schedule` — a run's schedule, drawn from the seed and the run's number only;
* :mod:`soak.launch` — the environment and the command of a run's behave process and of its sweep;
* :mod:`soak.load` — CPU-bound processes beside a run, bounded and killed by PID;
* :mod:`soak.inject` — carries out a schedule against a live sandbox as its moments come;
* :mod:`soak.truth` — the sandbox's ground truth, read once the server is quiet;
* :mod:`soak.runner` — one run from sandbox start to saved files;
* :mod:`soak.judge` — the verdict of one run from its record, its metrics and the truth (pure);
* :mod:`soak.summary` — the verdicts of all runs as ``summary.json`` and a table.
"""
