"""Notifiers of the watch: a Slack incoming webhook and PagerDuty Events API v2, in the
runbook's incident words (:mod:`.messages`), sent off the watch's thread (:mod:`.outbox`)
so a slow or failing service never delays the decision or the rollback command."""
