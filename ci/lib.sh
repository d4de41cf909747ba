# Shared by the ci/<server>.sh scripts, sourced after `set -euo pipefail`:
# a throwaway work folder removed on exit together with every process the
# script started (by PID, nothing else), a free loopback port, waiting for a
# listener, and running the suite then comparing its failures with the
# server's reviewed known-deviations file (ci/known.py).
#
# Environment every script honours: POP3SPEC_BIN (default
# target/release/pop3spec), REPORTS (default reports/), JOBS (default 4),
# UPDATE_KNOWN=1 to rewrite the known-deviations file for review.

ci_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ci_repo="$(dirname "$ci_here")"
ci_bin="${POP3SPEC_BIN:-$ci_repo/target/release/pop3spec}"
ci_reports="${REPORTS:-$ci_repo/reports}"
ci_jobs="${JOBS:-4}"
ci_pids=()
# Commands run at exit before the work folder goes (e.g. removing test users).
ci_on_exit=()

# ci_init NAME: makes $work (mode 755, so servers under their own uid can
# enter it) and arranges the clean-up.
ci_init() {
  work="$(mktemp -d "/tmp/pop3spec-$1.XXXXXX")"
  chmod 755 "$work"
  trap ci_cleanup EXIT
}

ci_cleanup() {
  local pid
  for pid in "${ci_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  local cmd
  for cmd in "${ci_on_exit[@]}"; do eval "$cmd" || true; done
  rm -rf "$work"
}

# ci_port: a loopback TCP port that no socket uses (PORT and PORT+1 both free).
# Ports come from below the kernel's ephemeral range: the suite opens thousands
# of client connections, and a server that binds without SO_REUSEADDR (GNU
# Mailutils' pop3d) fails with "Address already in use" on a port that one of
# them left in TIME_WAIT. `ss` sees every state, not only listeners.
ci_port() {
  local port low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  while :; do
    port=$((20000 + RANDOM % (low - 20000 - 2)))
    if [ -z "$(ss -Htan "( sport = :$port or sport = :$((port + 1)) )" 2>/dev/null)" ] \
      && ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null \
      && ! (exec 3<>"/dev/tcp/127.0.0.1/$((port + 1))") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

# ci_wait_port PORT [LOG]: waits up to 10 s for a listener; else shows LOG and fails.
ci_wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1 after 10 s" >&2
  [ -n "${2:-}" ] && tail -30 "$2" >&2
  return 1
}

# ci_run_and_compare NAME KNOWN LOG [pop3spec run flags...]: runs the suite
# with reports $REPORTS/NAME.{xml,json}; exits with pop3spec's code when it is
# a usage or connection problem (>= 2, showing LOG), else compares.
ci_run_and_compare() {
  local name="$1" known="$2" log="$3"
  shift 3
  mkdir -p "$ci_reports"
  local code=0
  "$ci_bin" run --jobs "$ci_jobs" \
    --junit "$ci_reports/$name.xml" --json "$ci_reports/$name.json" \
    --color never "$@" || code=$?
  if [ "$code" -ge 2 ]; then
    echo "pop3spec exited with $code; end of the server's log:" >&2
    tail -20 "$log" >&2 || true
    exit "$code"
  fi
  python3 "$ci_here/known.py" "$ci_reports/$name.json" "$known"
}

# ci_client_driver NAME: the path of the client driver ci/clients/NAME.sh or
# NAME.py, relative to the repository root; fails naming both when neither is.
ci_client_driver() {
  local candidate
  for candidate in "ci/clients/$1.sh" "ci/clients/$1.py"; do
    [ -x "$ci_repo/$candidate" ] && { echo "$candidate"; return 0; }
  done
  echo "no driver ci/clients/$1.sh or ci/clients/$1.py" >&2
  return 2
}
