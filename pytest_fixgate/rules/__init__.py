"""Watch rules as Prometheus sees them: PromQL over the reference service's metrics,
alerting-rules export (``fixgate rules export``), promtool-format unit tests run
against the watch engine (``fixgate rules test``)."""
