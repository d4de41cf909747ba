#!/usr/bin/env bash
# pop3spec client driver for mpop (Debian's mpop 1.4, GnuTLS).
#
#   pop3spec client --command ci/clients/mpop.sh
#
# One run of one account from an mpoprc written here, delivering into
# POP3SPEC_OUT as a Maildir (new/ cur/ tmp/ made here: mpop does not create
# them), without the Received: header mpop adds by default. The UIDL list lives
# in the throwaway folder, so every message is new to it.
#
# How the scenario's settings map:
#   TLS none      tls off
#   TLS starttls  tls on, tls_starttls on, tls_certcheck on, tls_trust_file CA
#   TLS implicit  tls on, tls_starttls off, tls_certcheck on, tls_trust_file CA
#   AUTH user     auth user
#   AUTH apop     auth apop
#   AUTH plain    auth plain
#   AUTH any      auth on (mpop's choice; without TLS mpop only considers methods
#                 that do not send the password in clear, mpop(1) "auth")
#   DELETE 0/1    keep on / keep off
set -euo pipefail
source "$(dirname "$0")/common.sh"

case "$auth" in
  any) auth_opt="auth on" ;;
  *) auth_opt="auth $auth" ;;
esac
case "$tls" in
  none) tls_opts="tls off" ;;
  starttls) tls_opts="tls on
tls_starttls on" ;;
  implicit) tls_opts="tls on
tls_starttls off" ;;
esac
if [ "$tls" != none ]; then
  tls_opts="$tls_opts
tls_certcheck on
tls_trust_file $(quote_dq "$cafile")"
fi
if [ "$delete" = 1 ]; then keep="keep off"; else keep="keep on"; fi

mkdir -p "$out/new" "$out/cur" "$out/tmp"
umask 077
cat > "$conf/mpoprc" <<RC
account pop3spec
host $(quote_dq "$host")
port $port
user $(quote_dq "$user")
password $(quote_dq "$pass")
$auth_opt
$tls_opts
$keep
only_new on
uidls_file $(quote_dq "$conf/uidls")
received_header off
delivery maildir $(quote_dq "$out")
RC

run_client mpop --file="$conf/mpoprc" pop3spec
