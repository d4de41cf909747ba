#!/usr/bin/env bash
# pop3spec client driver for getmail6 (Debian's getmail6 6.18, Python's poplib).
#
#   pop3spec client --command ci/clients/getmail.sh
#
# One run of one retriever from a getmailrc written here (getmail --getmaildir
# keeps its oldmail state in the throwaway folder, so every message is new),
# delivering into POP3SPEC_OUT as a Maildir (new/ cur/ tmp/ made here), without
# the Delivered-To: and Received: headers getmail adds by default. getmail
# refuses to deliver as root: run as root (as in CI), the driver hands the
# Maildir's new/ cur/ tmp/ to the user `nobody` and names it in the
# destination's `user`, getmail's own way to drop privileges for delivery.
#
# How the scenario's settings map:
#   TLS none      SimplePOP3Retriever
#   TLS implicit  SimplePOP3SSLRetriever with ca_certs CA (getmail then requires
#                 a certificate that chains to it and matches the host name)
#   TLS starttls  not expressible: getmail6 has no STLS for POP3 (only its IMAP
#                 retrievers speak STARTTLS): exits 77
#   AUTH user     use_apop false (USER/PASS)
#   AUTH apop     use_apop true
#   AUTH any      use_apop false (getmail's default)
#   AUTH plain    not expressible: getmail6 speaks no POP3 SASL: exits 77
#   DELETE 0/1    delete false / delete true
set -euo pipefail
source "$(dirname "$0")/common.sh"

case "$auth" in
  apop) use_apop=true ;;
  user | any) use_apop=false ;;
  plain) unsupported "getmail6 cannot use AUTH PLAIN for POP3 (no POP3 SASL)" ;;
esac
case "$tls" in
  none) retriever="type = SimplePOP3Retriever" ;;
  implicit) retriever="type = SimplePOP3SSLRetriever
ca_certs = $cafile" ;;
  starttls) unsupported "getmail6 has no STARTTLS (STLS) for POP3" ;;
esac
if [ "$delete" = 1 ]; then del=true; else del=false; fi

# getmailrc is read by Python's ConfigParser with %-interpolation.
ini() { printf '%s' "${1//%/%%}"; }

mkdir -p "$out/new" "$out/cur" "$out/tmp"
deliver_as=""
if [ "$(id -u)" = 0 ]; then
  chown nobody "$out/new" "$out/cur" "$out/tmp"
  deliver_as="user = nobody"
fi
umask 077
cat > "$conf/getmailrc" <<RC
[retriever]
$retriever
server = $(ini "$host")
port = $port
username = $(ini "$user")
password = $(ini "$pass")
use_apop = $use_apop

[destination]
type = Maildir
path = $(ini "$out")/
$deliver_as

[options]
verbose = 2
read_all = true
delete = $del
delivered_to = false
received = false
message_log_syslog = false
RC

run_client getmail --getmaildir="$conf" --rcfile="$conf/getmailrc"
