"""The post-promotion watch: sample an environment, evaluate alert rules, decide.

- :mod:`.engine`: the pure rule engine (timestamped samples in, alert states out).
- :mod:`.rules`: the ``[env.X.watch]`` config and the runbook's default rules.
- :mod:`.sources`: one module per sample source (probe, mongo, redis, prometheus, sentry).
- :mod:`.samples`: the fsync'd JSONL samples file.
- :mod:`.sampler`: the live loop; :mod:`.replay`: the same engine fed from a file.
"""
