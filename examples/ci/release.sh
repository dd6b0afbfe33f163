#!/bin/sh
# Staging gate -> tag -> production deploy -> watch -> rollback, for any CI system
# (GitLab CI, Jenkins, Buildkite, a cron job). POSIX sh, safe under `set -e`:
# every gate's exit code is captured with `|| code=$?`, never left to kill the script.
#
# Exit codes of `pytest --gate=ENV` (pytest-fixgate):
#   0 PROMOTE   1 HOLD   10 ROLLBACK (a SEV-1/SEV-2 alert during a watch)
#   2 interrupted, 3 internal error (e.g. reports not written), 4 usage/config error
#
# Settings (environment variables):
#   FIXGATE_VERSION            the release tag to create, e.g. v1.4.2 (required)
#   FIXGATE_DEPLOY_STAGING     shell command deploying this commit to staging (optional)
#   FIXGATE_DEPLOY_PRODUCTION  shell command deploying it to production (required)
#   FIXGATE_ROLLBACK           shell command rolling production back on exit 10; leave it
#                              empty when [env.production.watch] rollback_command does it
#   FIXGATE_WATCH              how long to watch production (default 30m)
#   FIXGATE_PUSH_REMOTE        remote for the tag and refs/notes/fixgate (default origin;
#                              empty: do not push)
#   FIXGATE_REPORT_DIR         report folder (default reports)
#   FIXGATE_GATE_ARGS          more pytest arguments for both gate runs (e.g. "-n 2")
#   FIXGATE_PYTEST, FIXGATE_CLI  commands to run (default: pytest, fixgate)
#
# git needs user.name and user.email here: the tag and the notes are git objects.
set -eu

: "${FIXGATE_VERSION:?set FIXGATE_VERSION to the release tag, e.g. v1.4.2}"
: "${FIXGATE_DEPLOY_PRODUCTION:?set FIXGATE_DEPLOY_PRODUCTION to the production deploy command}"
deploy_staging=${FIXGATE_DEPLOY_STAGING:-}
rollback=${FIXGATE_ROLLBACK:-}
watch=${FIXGATE_WATCH:-30m}
remote=${FIXGATE_PUSH_REMOTE-origin}
reports=${FIXGATE_REPORT_DIR:-reports}
gate_args=${FIXGATE_GATE_ARGS:-}
pytest_cmd=${FIXGATE_PYTEST:-pytest}
fixgate_cmd=${FIXGATE_CLI:-fixgate}

say() { printf 'release: %s\n' "$*"; }

# Baselines and `fixgate show` read the notes of earlier releases.
if [ -n "$remote" ]; then
    git fetch --quiet "$remote" "refs/notes/fixgate:refs/notes/fixgate" 2>/dev/null \
        || say "no refs/notes/fixgate on $remote yet (first release?)"
fi

if [ -n "$deploy_staging" ]; then
    say "deploying $(git rev-parse --short HEAD) to staging"
    sh -c "$deploy_staging"
fi

# 1. The staging gate. Only 0 (PROMOTE) goes on.
code=0
# shellcheck disable=SC2086  # gate_args is a list of words on purpose
$pytest_cmd --gate=staging --gate-report-dir="$reports" $gate_args || code=$?
case $code in
    0) say "staging gate: PROMOTE" ;;
    1) say "staging gate: HOLD - not tagging, not deploying (see $reports/)"; exit 1 ;;
    *) say "staging gate: exit $code (no decision: interrupted, internal or config error)"; exit "$code" ;;
esac

# 2. Tag HEAD and keep the reports with the tag (refused unless the verdict is a fresh
#    PROMOTE of this very commit).
push=""
[ -n "$remote" ] && push="--push $remote"
# shellcheck disable=SC2086
$fixgate_cmd tag "$FIXGATE_VERSION" --report "$reports/staging-latest.json" --attach $push

# 3. Deploy, then watch production; exit 10 means roll back now.
say "deploying $FIXGATE_VERSION to production"
sh -c "$FIXGATE_DEPLOY_PRODUCTION"
code=0
# shellcheck disable=SC2086
$pytest_cmd --gate=production --watch="$watch" --gate-report-dir="$reports" $gate_args || code=$?
case $code in
    0) say "production watch: PROMOTE - $FIXGATE_VERSION stays"; exit 0 ;;
    10)
        say "production watch: ROLLBACK - a SEV-1/SEV-2 alert fired"
        if [ -n "$rollback" ]; then
            sh -c "$rollback" || { say "ROLLBACK COMMAND FAILED - roll back by hand"; exit 10; }
            say "rolled back"
        else
            say "no FIXGATE_ROLLBACK: the watch's rollback_command (if configured) ran"
        fi
        exit 10 ;;
    1) say "production watch: HOLD - no alert, but nothing shows the release healthy"; exit 1 ;;
    *) say "production watch: exit $code (no decision)"; exit "$code" ;;
esac
