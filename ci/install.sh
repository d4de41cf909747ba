#!/usr/bin/env bash
# The install paths users take, checked the way they take them (issue 16):
#  1. `cargo package --list` of both crates ships what they need and nothing
#     else (no reports/, ci/, .ci/, tests);
#  2. `cargo install --path` of both crates into a fresh root (offline:
#     nothing is fetched);
#  3. the installed binaries run from an empty folder with the checkout and
#     ../shared hidden (a private mount namespace lays an empty tmpfs over
#     them; nothing is deleted): `pop3spec run` on the bundled server, `list`,
#     `check`, `explain`, a user folder that uses a built-in fixture (alone
#     and added to the built-in suite with --add), and
#     pop3spec against the installed pop3-reference-server.
#
# CARGO_TARGET_DIR defaults to the checkout's target/, so the install reuses
# the release build `.ci/run` made just before instead of compiling again.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ci_repo"
ci_init install

# ---------------------------------------------------------------- 1. package
echo "-- cargo package --list"
check_package() {
  local crate="$1" list
  shift
  list="$(cargo package --list --allow-dirty -q -p "$crate" 2>/dev/null)"
  local forbidden
  forbidden="$(grep -E '^(reports|ci|\.ci|tests|target|fuzz|examples)/' <<<"$list" || true)"
  if [ -n "$forbidden" ]; then
    echo "error: the $crate package would ship files it does not need:" >&2
    echo "$forbidden" >&2
    exit 1
  fi
  local need
  for need in "$@"; do
    if ! grep -qxF "$need" <<<"$list"; then
      echo "error: the $crate package lacks $need" >&2
      exit 1
    fi
  done
  echo "$crate: $(wc -l <<<"$list") files, none from reports/, ci/, .ci/ or tests/"
}
check_package pop3spec Cargo.toml Cargo.lock build.rs README.md LICENSE-MIT LICENSE-APACHE \
  src/main.rs scenarios/requirements.yaml scenarios/fixtures/long-body/01-long-body.eml \
  scenarios/fixtures/empty/.keep docs/rfc/rfc1939.txt docs/rfc/README.md docs/scenario.schema.json
check_package pop3-reference-server Cargo.toml README.md LICENSE-MIT LICENSE-APACHE src/main.rs

# ---------------------------------------------------------------- 2. install
# The root is fresh; CARGO_HOME is not: a CARGO_HOME at another path (even one
# whose registry is a link to this one) changes every dependency's source path,
# and Cargo then rebuilds them all (measured: over 7 minutes here instead of
# seconds). `--offline`: the registry cache holds all the locked crates after
# the build before, so nothing is fetched.
echo "-- cargo install into a fresh root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ci_repo/target}"
root="$work/root"
start=$SECONDS
cargo install -q --locked --offline --path . --root "$root"
cargo install -q --locked --offline --path reference-server --root "$root"
echo "installed in $((SECONDS - start)) s: $(ls "$root/bin" | tr '\n' ' ')"
# What the checkout's build lists, to compare with the installed binary's.
expected="$("$CARGO_TARGET_DIR/release/pop3spec" list | tail -1)"

# ---------------------------------------------------- 3. run from elsewhere
# Runs inside the private mount namespace, in an empty folder.
installed_checks() {
  local root="$1" expected="$2" home
  home="$(mktemp -d "$root/../home.XXXXXX")"
  cd "$home"
  export PATH="$root/bin:$PATH"
  # The built-in suite's cache folder, inside the throwaway home.
  export XDG_CACHE_HOME="$home/cache"
  local out

  echo "-- pop3spec list, check"
  out="$(pop3spec list | tail -1)"
  [ "$out" = "$expected" ] || { echo "error: installed list says '$out', the checkout '$expected'" >&2; exit 1; }
  pop3spec check
  pop3spec list --json >list.json
  grep -q '"file": "scenarios/rfc1939/update/all-marked-removed.yaml"' list.json

  echo "-- pop3spec explain rfc1939.update.all-marked-removed"
  out="$(pop3spec explain rfc1939.update.all-marked-removed)"
  grep -qF "6. The UPDATE State" <<<"$out" || { echo "$out" >&2; exit 1; }
  grep -qF "file:        scenarios/rfc1939/update/all-marked-removed.yaml:" <<<"$out"

  echo "-- pop3spec run (the bundled reference server)"
  pop3spec run -q
  grep -q '"file": "scenarios/rfc1939/' reports/results.json
  if grep -lE "pop3spec-suite-|suite-[0-9a-f]{16}|$ci_repo" reports/results.json reports/junit.xml; then
    echo "error: a report names a build or temporary path" >&2
    exit 1
  fi

  echo "-- a user folder with a built-in fixture"
  mkdir mine
  cat >mine/forty-lines.yaml <<'EOF'
id: mine.retr.forty-lines
title: RETR 1 sends all forty lines of the built-in long-body fixture
spec: RFC 1939 §7 (RETR)
requirement: RETR sends the whole message.
level: must
state: transaction
fixture: long-body
steps:
  - send: RETR 1
  - expect_multiline: { status: ok, contains: ['Line 01', 'Line 40'] }
EOF
  pop3spec run mine -q --no-reports
  echo "-- the same folder added to the built-in suite (--add)"
  pop3spec run --add mine 'mine.*' -q --no-reports
  out="$(pop3spec list --add mine | tail -1)"
  [ "$out" != "$expected" ] || { echo "error: --add mine added nothing: $out" >&2; exit 1; }

  echo "-- pop3spec against the installed pop3-reference-server"
  pop3-reference-server --list-faults >/dev/null
  mkdir -p mail/alice
  printf 'alice:Secret-1\n' >users
  local port pid
  port="$(ci_port)"
  pop3-reference-server --mail-root mail --users users --listen "127.0.0.1:$port" --no-tls \
    --auth-failure-delay 0 >server.log 2>&1 &
  pid=$!
  ci_wait_port "$port" server.log
  local code=0
  # --skip-tag slow: the autologout scenario would wait out the 10-minute timer.
  pop3spec run 'rfc1939.update.*' --skip-tag slow -q --no-reports --host 127.0.0.1 --port "$port" \
    --user alice --pass Secret-1 --maildir mail/alice || code=$?
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  [ "$code" = 0 ] || { tail -20 server.log >&2; exit "$code"; }
}

hide=("$ci_repo")
[ -d "$ci_repo/../shared" ] && hide+=("$(cd "$ci_repo/../shared" && pwd)")
inside="$(declare -f ci_port ci_wait_port installed_checks); ci_repo='$ci_repo';"
inside+=' for d in "${@:3}"; do mount -t tmpfs -o ro,size=1k none "$d"; done;'
inside+=' [ -z "$(ls -A "$3")" ] || { echo "error: the checkout is still visible" >&2; exit 1; };'
inside+=' installed_checks "$1" "$2"'
start=$SECONDS
if unshare --mount --propagation private true 2>/dev/null; then
  echo "-- hiding ${hide[*]} in a private mount namespace"
  unshare --mount --propagation private bash -euo pipefail -c "$inside" bash "$root" "$expected" "${hide[@]}"
else
  echo "note: no mount namespace here (unshare needs root): the checkout stays visible, the run is from an empty folder all the same"
  bash -euo pipefail -c "$(declare -f ci_port ci_wait_port installed_checks); ci_repo='$ci_repo'; installed_checks \"\$1\" \"\$2\"" bash "$root" "$expected"
fi
echo "installed binaries checked from an empty folder in $((SECONDS - start)) s"
