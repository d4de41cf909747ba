#!/usr/bin/env bash
# Runs the suite against a real Cyrus IMAP's pop3d, started here under a
# master process of our own with a throwaway configuration, spool and SASL
# database in a temporary directory (nothing under /etc is touched), and
# compares the results with ci/cyrus/default.known.
#
#   ci/cyrus.sh [extra pop3spec run flags...]
#
# Cyrus keeps mail in its own spool, so pop3spec seeds it the way mail reaches
# it: by LMTP (--deliver) on the Unix socket of Cyrus's lmtpd. JOBS (default 4)
# scenarios run at once, each job on accounts of its own (alice1/bob1 ...
# aliceN/bobN, in the SASL database), whose INBOX Cyrus creates on first use.
#
# Needs: cyrus-common and sasl2-bin (Debian), openssl, and Cyrus's pop3d: the
# cyrus-pop3d package, or, since Debian lets only one POP3 server package be
# installed (cyrus-pop3d conflicts with dovecot-pop3d), its binary unpacked
# here from `apt-get download cyrus-pop3d` (CYRUS_POP3D names another).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
known="$ci_here/cyrus/default.known"
ci_init cyrus

pop3d="${CYRUS_POP3D:-/usr/lib/cyrus/bin/pop3d}"
if [ ! -x "$pop3d" ]; then
  (cd "$work" && apt-get download -q cyrus-pop3d >/dev/null 2>&1) || {
    echo "no Cyrus pop3d: install cyrus-pop3d, or let apt-get download fetch it" >&2
    exit 2
  }
  dpkg-deb -x "$work"/cyrus-pop3d_*.deb "$work/pkg"
  pop3d="$work/pkg/usr/lib/cyrus/bin/pop3d"
fi

port=$(ci_port)
tls_port=$((port + 1))
pass1="pw-$RANDOM$RANDOM"; pass2="pw2-$RANDOM$RANDOM"

mkdir -p "$work/conf" "$work/spool" "$work/socket" "$work/tmp"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
  -keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
for n in $(seq "$ci_jobs"); do
  echo "$pass1" | saslpasswd2 -p -c -f "$work/sasldb2" -u localhost "alice$n"
  echo "$pass2" | saslpasswd2 -p -c -f "$work/sasldb2" -u localhost "bob$n"
done

cat > "$work/imapd.conf" <<CONF
configdirectory: $work/conf
partition-default: $work/spool
temp_path: $work/tmp
servername: localhost
admins: cyrus
# Plaintext logins (USER/PASS, AUTH PLAIN) checked against our own SASL
# database; APOP needs the plaintext secrets it holds.
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $work/sasldb2
sasl_mech_list: PLAIN LOGIN
allowplaintext: yes
allowapop: yes
tls_server_cert: $work/cert.pem
tls_server_key: $work/key.pem
# Each test account's INBOX is made on its first login or delivery.
autocreate_quota: 0
autocreate_post: 1
# Keep the fixtures' UTF-8 header bytes as they are (Cyrus would replace them with X).
munge8bit: no
reject8bit: no
# No minimum time between logins: scenarios log in back to back.
popminpoll: 0
# Mailbox folders named after the user. With the default UUID-named folders,
# INBOXes autocreated at the same moment by the jobs' first logins ended up
# sharing one folder (seen with 3.6.1: mail delivered to alice1 was listed for
# alice2 and alice4 too), which no POP3 rule is about.
mailbox_legacy_dirs: yes
lmtpsocket: $work/socket/lmtp
idlesocket: $work/socket/idle
notifysocket: $work/socket/notify
CONF

cat > "$work/cyrus.conf" <<CONF
START {
  recover cmd="ctl_cyrusdb -C $work/imapd.conf -r"
}
SERVICES {
  pop3 cmd="$pop3d -C $work/imapd.conf" listen="127.0.0.1:$port" prefork=0
  pop3s cmd="$pop3d -s -C $work/imapd.conf" listen="127.0.0.1:$tls_port" prefork=0
  lmtpunix cmd="lmtpd -C $work/imapd.conf" listen="$work/socket/lmtp" prefork=0
}
EVENTS {
}
DAEMON {
}
CONF
chown -R cyrus:mail "$work"
chmod 600 "$work/sasldb2"

/usr/lib/cyrus/bin/master -C "$work/imapd.conf" -M "$work/cyrus.conf" \
  -p "$work/master.pid" -L "$work/master.log" &
ci_pids+=($!)
ci_wait_port "$port" "$work/master.log"

ci_run_and_compare cyrus "$known" "$work/master.log" \
  --host 127.0.0.1 --port "$port" --tls-port "$tls_port" --insecure \
  --user-template 'alice{job}' --pass "$pass1" \
  --user2-template 'bob{job}' --pass2 "$pass2" \
  --deliver "lmtp:$work/socket/lmtp" "$@"
