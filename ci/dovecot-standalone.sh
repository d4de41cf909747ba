#!/usr/bin/env bash
# Starts a standalone Dovecot (POP3 only, plaintext, no TLS) in the foreground
# for benchmarks: configuration, users and Maildirs live in WORKDIR; nothing
# under /etc is touched. Each user gets MESSAGE (if given) delivered once.
#
#   ci/dovecot-standalone.sh WORKDIR PORT [MESSAGE|-] USER:PASS...
#
# POP3_LOCK_SESSION=yes makes Dovecot lock the maildrop for the whole session.
# Used by `pop3spec-bench server` (src/bin/pop3spec-bench.rs). The conformance
# run keeps its own set-up in ci/dovecot.sh. Stop it with SIGTERM.
set -euo pipefail
work="$1"; port="$2"; message="${3:--}"; shift 3
mail_uid=$(id -u nobody); mail_gid=$(id -g nobody)
mkdir -p "$work/run" "$work/state" "$work/home"
chmod 755 "$work"
: > "$work/passwd"
for up in "$@"; do
  u="${up%%:*}"; p="${up#*:}"
  mkdir -p "$work/home/$u/Maildir"/{cur,new,tmp}
  if [ "$message" != "-" ]; then
    cp "$message" "$work/home/$u/Maildir/cur/1000.bench:2,"
  fi
  echo "$u:{PLAIN}$p:$mail_uid:$mail_gid::$work/home/$u" >> "$work/passwd"
done
chown -R "$mail_uid:$mail_gid" "$work/home"
cat > "$work/dovecot.conf" <<CONF
base_dir = $work/run
state_dir = $work/state
log_path = $work/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = 1
auth_failure_delay = 0
pop3_lock_session = ${POP3_LOCK_SESSION:-no}
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
    port = 0
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
exec dovecot -F -c "$work/dovecot.conf"
