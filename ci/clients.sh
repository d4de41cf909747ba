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
# default: all). Reports: $REPORTS/client-CLIENT.xml and .json (the client
# matrix in reports/ is made from the .json files, see reports/README.md).
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

status=0
for client in "${clients[@]}"; do
  driver=$(ci_client_driver "$client")
  echo "== client: $client"
  code=0
  "$ci_bin" client --command "$driver" --color never \
    --junit "$ci_reports/client-$client.xml" --json "$ci_reports/client-$client.json" \
    "$@" || code=$?
  [ "$code" -lt 2 ] || exit "$code"
  python3 "$ci_here/known.py" "$ci_reports/client-$client.json" \
    "$ci_here/clients/$client.known" || status=1
done
exit "$status"
