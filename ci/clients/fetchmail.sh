#!/usr/bin/env bash
# pop3spec client driver for fetchmail (Debian's fetchmail 6.4, OpenSSL).
#
#   pop3spec client --command ci/clients/fetchmail.sh
#
# One poll of one account, in the foreground (--nodetach, no daemon), from a
# fetchmailrc written here. Delivery: an MDA that writes each message to its own
# file in POP3SPEC_OUT (0001, 0002, ... in the order fetchmail delivers them);
# fetchmail strips the CRs before an MDA. `set invisible` and `no rewrite` keep
# fetchmail from adding a Received: header and from rewriting addresses, so the
# stored message is the one the server sent.
#
# How the scenario's settings map:
#   TLS none      sslproto '' (no STARTTLS) and no sslcertck (which would make
#                 STARTTLS mandatory again)
#   TLS starttls  sslproto 'auto' (STARTTLS required), sslcertck, sslcertfile CA
#   TLS implicit  ssl, sslproto 'auto', sslcertck, sslcertfile CA
#                 (fetchmail matches the host name against the certificate's CN
#                 and DNS-type names only, never an IP address entry: a
#                 certificate for 127.0.0.1 must carry it as CN or DNS name, as
#                 pop3spec client's and ci/clients-reference.sh's do)
#   AUTH user     protocol POP3, auth password (USER/PASS)
#   AUTH apop     protocol APOP
#   AUTH any      protocol POP3, auth any (fetchmail's choice)
#   AUTH plain    not expressible: fetchmail's POP3 speaks no SASL PLAIN (its
#                 AUTH methods are GSSAPI, KERBEROS, CRAM-MD5, OTP, NTLM, MSN):
#                 exits 77
#   DELETE 0/1    keep / no keep
# Exit status: fetchmail's own; 1 means "no mail" (an empty maildrop), not an
# error (fetchmail(1), EXIT CODES).
set -euo pipefail
source "$(dirname "$0")/common.sh"

case "$auth" in
  user) protocol="protocol POP3 auth password" ;;
  apop) protocol="protocol APOP" ;;
  any) protocol="protocol POP3 auth any" ;;
  plain) unsupported "fetchmail cannot be told to use AUTH PLAIN for POP3" ;;
esac
case "$tls" in
  none) tls_opts="sslproto '' no sslcertck" ;;
  starttls) tls_opts="sslproto 'auto' sslcertck sslcertfile $(quote_dq "$cafile")" ;;
  implicit) tls_opts="ssl sslproto 'auto' sslcertck sslcertfile $(quote_dq "$cafile")" ;;
esac
if [ "$delete" = 1 ]; then keep="no keep"; else keep="keep"; fi

cat > "$conf/deliver" <<'MDA'
#!/bin/sh
# fetchmail's MDA: one file per message, numbered in delivery order.
n=$(( $(cat "$POP3SPEC_DRIVER_CONF/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$POP3SPEC_DRIVER_CONF/count"
exec cat > "$POP3SPEC_OUT/$(printf %04d "$n")"
MDA
chmod 755 "$conf/deliver"
export POP3SPEC_DRIVER_CONF="$conf"

umask 077
cat > "$conf/fetchmailrc" <<RC
set no syslog
set no bouncemail
set invisible
poll $(quote_dq "$host") service $port $protocol
  user $(quote_dq "$user") there with password $(quote_dq "$pass") is $(quote_dq "$(id -un)") here
  $keep
  no rewrite
  $tls_opts
  mda $(quote_dq "$conf/deliver")
RC

export FETCHMAILHOME="$conf"
run_client fetchmail --nodetach --nosyslog -v -f "$conf/fetchmailrc" \
  --idfile "$conf/fetchids" --pidfile "$conf/fetchmail.pid"
