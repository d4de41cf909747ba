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
source "$(dirname "$0")/lib.sh"
variant="${1:-default}"; shift || true
known="$ci_here/dovecot/$variant.known"
jobs="$ci_jobs"
ci_init dovecot

port=$(ci_port)
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

# Every mechanism the suite can run is enabled, so each is judged on a real server.
mechanisms="plain login apop cram-md5 scram-sha-256 scram-sha-1"
lock="no"
case "$variant" in
  default) ;;
  lock-session) lock="yes" ;;
  no-apop) mechanisms="plain login cram-md5 scram-sha-256 scram-sha-1" ;;
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
ci_pids+=($!)
ci_wait_port "$port" "$work/dovecot.log"

ci_run_and_compare "dovecot-$variant" "$known" "$work/dovecot.log" \
  --host 127.0.0.1 --port "$port" --tls-port "$tls_port" --insecure \
  --user-template 'alice{job}' --pass "$pass1" \
  --user2-template 'bob{job}' --pass2 "$pass2" \
  --maildir-template "$work/home/{user}/Maildir" "$@"
