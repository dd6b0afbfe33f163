"""The post-promotion watch: sample an environment, evaluate alert rules, decide.

- :mod:`.engine`: the pure rule engine (timestamped samples in, alert states out).
- :mod:`.rules`: the ``[env.X.watch]`` gate kind and the runbook's default rules.
- :mod:`.sources`: one module per sample source (probe, mongo, redis, prometheus,
  sentry) and the seam for plugin sources.
- :mod:`.samples`: the fsync'd JSONL samples file.
- :mod:`.sampler`: the live loop; :mod:`.session`: one watch, live, resumed or replayed.
- :mod:`.evidence`: time series and charts; :mod:`.live`: the terminal line.
- :mod:`.plugin`: the pytest glue (``--watch``, ``--watch-resume``, ``--watch-replay``);
  :mod:`.cli`: ``fixgate watch`` and ``fixgate replay``; :mod:`.demo`: ``--demo``.
"""
