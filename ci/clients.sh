#!/usr/bin/env bash
# Runs the client suite (`pop3spec client`, scenarios/client/) against the real
# POP3 clients through their drivers in ci/clients/, and compares each
# client's failures and errors with its reviewed known-deviations file
# ci/clients/<client>.known (ci/known.py, both ways: a new failure, or a listed
# one that passes now, fails the script).
#
#   ci/clients.sh [CLIENT...] [-- extra pop3spec client flags]
#
# CLIENT is a driver's name (curl fetchmail getmail mpop python-poplib, the
# default: all), run side by side. Reports: $REPORTS/client-CLIENT.xml, .json
# and .log (the console output); the client matrix in reports/ is made from
# the .json files (see reports/README.md).
# Needs the clients (Debian: curl fetchmail getmail6 mpop python3) and
# target/release/pop3spec (POP3SPEC_BIN to use another).
# UPDATE_KNOWN=1 rewrites the known files from the results, for review.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

clients=()
while [ "$#" -gt 0 ] && [ "$1" != -- ]; do clients+=("$1"); shift; done
[ "${1:-}" != -- ] || shift
[ "${#clients[@]}" -gt 0 ] || clients=(curl fetchmail getmail mpop python-poplib)
mkdir -p "$ci_reports"
# The drivers are named relative to the repository root, as in the reports.
case "$ci_bin" in /*) ;; *) ci_bin="$PWD/$ci_bin" ;; esac
case "$ci_reports" in /*) ;; *) ci_reports="$PWD/$ci_reports" ;; esac
cd "$ci_repo"

# run_client CLIENT [flags]: the client suite through CLIENT's driver, its
# console output in $REPORTS/client-CLIENT.log; exits with pop3spec's status.
run_client() {
  local client="$1" driver code=0
  shift
  driver=$(ci_client_driver "$client")
  "$ci_bin" client --command "$driver" --color never \
    --junit "$ci_reports/client-$client.xml" --json "$ci_reports/client-$client.json" \
    "$@" > "$ci_reports/client-$client.log" 2>&1 || code=$?
  return "$code"
}

# The clients run side by side (most of the time is client start-up and two
# scenarios that wait out their deadline); their output is shown in turn.
pids=()
for client in "${clients[@]}"; do
  run_client "$client" "$@" &
  pids+=($!)
done

# A client whose verdicts differ from its known file runs once more, and the
# second run decides: getmail6 6.18 forks for every delivery and installs its
# SIGCHLD handler only after fork(), so under load a delivery child that exits
# first leaves getmail waiting 60 s (upstream getmail6 issues #226 and #245),
# and the scenario then fails as a hang. The first run's output is shown above
# the second's.
status=0
for i in "${!clients[@]}"; do
  client="${clients[$i]}"
  code=0
  wait "${pids[$i]}" || code=$?
  echo "== client: $client"
  cat "$ci_reports/client-$client.log"
  if [ "$code" -lt 2 ] && ! python3 "$ci_here/known.py" "$ci_reports/client-$client.json" \
    "$ci_here/clients/$client.known"; then
    echo "== client: $client differs from ci/clients/$client.known: running it once more"
    code=0
    run_client "$client" "$@" || code=$?
    cat "$ci_reports/client-$client.log"
    [ "$code" -ge 2 ] || python3 "$ci_here/known.py" "$ci_reports/client-$client.json" \
      "$ci_here/clients/$client.known" || { [ "$status" = 2 ] || status=1; }
  fi
  if [ "$code" -ge 2 ]; then
    echo "pop3spec client exited with $code for $client" >&2
    status=2
  fi
done
exit "$status"
