#!/usr/bin/env bash
# Runs the suite against a real Dovecot, started here as a process of our own
# with a standalone configuration in a temporary directory (nothing under /etc
# is touched), and compares the results with the known deviations recorded in
# ci/dovecot/<variant>.known.
#
#   ci/dovecot.sh [default|lock-session|no-apop] [extra pop3spec run flags...]
#
# JOBS (default 4) scenarios run at once, each job on accounts of its own
# (alice1/bob1 ... aliceN/bobN, served by Dovecot's passwd-file) through
# pop3spec's --user-template/--user2-template/--maildir-template.
#
# Needs: dovecot-core and dovecot-pop3d (Debian), openssl, a built pop3spec
# (POP3SPEC_BIN, default target/release/pop3spec). Exits non-zero when the
# results differ from the known-deviations file in either direction.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
variant="${1:-default}"; shift || true
bin="${POP3SPEC_BIN:-$repo/target/release/pop3spec}"
known="$here/dovecot/$variant.known"
reports="${REPORTS:-$repo/reports}"
jobs="${JOBS:-4}"

work="$(mktemp -d /tmp/pop3spec-dovecot.XXXXXX)"
chmod 755 "$work"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 20000))
tls_port=$((port + 1))
mail_uid=$(id -u nobody); mail_gid=$(id -g nobody)
pass1="pw-$RANDOM$RANDOM"; pass2="pw2-$RANDOM$RANDOM"

mkdir -p "$work/run" "$work/state"
: > "$work/passwd"
for n in $(seq "$jobs"); do
  for user in "alice$n" "bob$n"; do
    mkdir -p "$work/home/$user/Maildir"/{cur,new,tmp}
  done
  echo "alice$n:{PLAIN}$pass1:$mail_uid:$mail_gid::$work/home/alice$n" >> "$work/passwd"
  echo "bob$n:{PLAIN}$pass2:$mail_uid:$mail_gid::$work/home/bob$n" >> "$work/passwd"
done
chown -R "$mail_uid:$mail_gid" "$work/home"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
  -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1

mechanisms="plain login apop"
lock="no"
case "$variant" in
  default) ;;
  lock-session) lock="yes" ;;
  no-apop) mechanisms="plain login" ;;
  *) echo "unknown variant $variant" >&2; exit 2 ;;
esac

cat > "$work/dovecot.conf" <<CONF
base_dir = $work/run
state_dir = $work/state
log_path = $work/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$work/cert.pem
ssl_key = <$work/key.pem
disable_plaintext_auth = no
auth_mechanisms = $mechanisms
mail_location = maildir:~/Maildir
first_valid_uid = 1
# A conformance run fails logins on purpose; without this Dovecot slows
# every later login from 127.0.0.1 by up to 15 s. The auth penalty is off when
# the auth process cannot reach anvil's penalty socket (Dovecot's documented
# way to disable it); auth_failure_delay is the fixed delay per failure.
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
pop3_lock_session = $lock
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $work/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $work/passwd
}
service pop3-login {
  inet_listener pop3 {
    port = $port
  }
  inet_listener pop3s {
    port = $tls_port
    ssl = yes
  }
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 0
  }
}
CONF

dovecot -F -c "$work/dovecot.conf" &
pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

mkdir -p "$reports"
set +e
"$bin" run --host 127.0.0.1 --port "$port" --tls-port "$tls_port" --insecure \
  --jobs "$jobs" --user-template 'alice{job}' --pass "$pass1" \
  --user2-template 'bob{job}' --pass2 "$pass2" \
  --maildir-template "$work/home/{user}/Maildir" \
  --junit "$reports/dovecot-$variant.xml" --json "$reports/dovecot-$variant.json" \
  --color never "$@"
code=$?
set -e
if [ "$code" -ge 2 ]; then
  echo "pop3spec exited with $code; dovecot log:" >&2
  tail -20 "$work/dovecot.log" >&2 || true
  exit "$code"
fi

# Compare the failing ids with the known deviations, both ways.
python3 - "$reports/dovecot-$variant.json" "$known" <<'PY'
import json, os, sys
report, known_path = sys.argv[1], sys.argv[2]
results = json.load(open(report))["scenarios"]
bad = {r["id"]: r for r in results if r["outcome"] in ("fail", "error")}
try:
    known = {}
    for line in open(known_path):
        line = line.split("#", 1)[0].strip()
        if line:
            known[line.split()[0]] = line
except FileNotFoundError:
    known = {}
if os.environ.get("UPDATE_KNOWN"):
    # Keep the reviewed header (the comment lines before the first id).
    header = []
    try:
        for line in open(known_path):
            if not line.startswith("#"):
                break
            header.append(line)
    except FileNotFoundError:
        header = [
            "# Scenarios that fail against this Dovecot set-up because Dovecot deviates\n",
            "# from the RFC rule they check. One id per line; after # the rule and what\n",
            "# Dovecot answered. Regenerate with UPDATE_KNOWN=1 ci/dovecot.sh VARIANT, then\n",
            "# review every line: a failure caused by the harness or a scenario is a bug to fix.\n",
        ]
    with open(known_path, "w") as out:
        out.writelines(header)
        for i in sorted(bad):
            r = bad[i]
            actual = ((r.get("finding") or {}).get("actual") or [""])[0]
            out.write(f"{i}  # {r['spec']}: {r.get('reason')}; observed `{actual}`\n")
    print(f"wrote {known_path} with {len(bad)} id(s)")
    sys.exit(0)
new = sorted(set(bad) - set(known))
gone = sorted(set(known) - set(bad))
for i in new:
    r = bad[i]
    print(f"NEW FAILURE {i} ({r['spec']}): {r.get('reason')}")
for i in gone:
    print(f"NO LONGER FAILING {i}: remove it from {known_path}")
print(f"{len(bad)} failing, {len(known)} known, {len(new)} new, {len(gone)} gone")
sys.exit(1 if new or gone else 0)
PY
