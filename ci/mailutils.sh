#!/usr/bin/env bash
# Runs the suite against a real GNU Mailutils pop3d, started here as a daemon
# of our own (in the foreground, on 127.0.0.1) with a configuration file in a
# temporary directory, and compares the results with
# ci/mailutils/default.known.
#
#   ci/mailutils.sh [extra pop3spec run flags...]
#
# Mailutils pop3d logs in system users, so the script adds throwaway ones
# (p3smu-a1/p3smu-b1 ... p3smu-aN/p3smu-bN, no shell, removed on exit) whose
# Maildirs live in the temporary directory; pop3spec seeds them with
# --maildir-template. JOBS (default 4) scenarios run at once, one account pair
# per job.
#
# Needs: mailutils-pop3d (Debian), openssl, useradd/userdel/chpasswd (root).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
known="$ci_here/mailutils/default.known"
ci_init mailutils

port=$(ci_port)
tls_port=$((port + 1))
pass1="pw-$RANDOM$RANDOM"; pass2="pw2-$RANDOM$RANDOM"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
  -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
chmod 600 "$work/key.pem"
mkdir -m 1777 "$work/lock"

add_user() { # NAME PASSWORD
  userdel "$1" >/dev/null 2>&1 || true
  useradd --no-create-home --home-dir "$work/home/$1" --shell /usr/sbin/nologin \
    --no-user-group --gid mail "$1"
  ci_on_exit+=("userdel $1 >/dev/null 2>&1")
  echo "$1:$2" | chpasswd
  echo "$1 $2" >> "$work/apop.txt"
  mkdir -p "$work/home/$1/Maildir"/{cur,new,tmp}
  chown -R "$1:mail" "$work/home/$1"
  chmod 700 "$work/home/$1"
}
for n in $(seq "$ci_jobs"); do
  add_user "p3smu-a$n" "$pass1"
  add_user "p3smu-b$n" "$pass2"
done

# APOP secrets (pop3d greets with an APOP timestamp whether or not it has them).
popauth --create --file="$work/apop.txt" --output="$work/apop.db"

cat > "$work/pop3d.conf" <<CONF
apop-database-file "$work/apop.db";
logging {
  syslog no;
};
auth {
  authorization system;
  authentication system;
};
mailbox {
  mailbox-pattern "maildir://$work/home/\${user}/Maildir";
};
tls {
  ssl-certificate-file "$work/cert.pem";
  ssl-key-file "$work/key.pem";
};
# pop3d's session lock (RFC 1939 §4, §6), in a folder of our own.
mandatory-locking {
  enable yes;
  lock-directory "$work/lock";
};
mode daemon;
foreground yes;
server 127.0.0.1:$port {
  tls-mode ondemand;
};
server 127.0.0.1:$tls_port {
  tls-mode connection;
};
CONF

pop3d --config-file="$work/pop3d.conf" > "$work/pop3d.log" 2>&1 &
ci_pids+=($!)
ci_wait_port "$port" "$work/pop3d.log"

ci_run_and_compare mailutils "$known" "$work/pop3d.log" \
  --host 127.0.0.1 --port "$port" --tls-port "$tls_port" --insecure \
  --user-template 'p3smu-a{job}' --pass "$pass1" \
  --user2-template 'p3smu-b{job}' --pass2 "$pass2" \
  --maildir-template "$work/home/{user}/Maildir" "$@"
