#!/usr/bin/env bash
# pop3spec client driver for curl (Debian's curl 7.88, OpenSSL).
#
#   pop3spec client --command ci/clients/curl.sh
#
# curl fetches what a URL names, so the driver runs it twice, on two
# connections: first the maildrop's URL (curl sends LIST and prints the scan
# listing), then one curl with every message's URL, each saved to its own file
# in POP3SPEC_OUT (0001, 0002, ... in LIST order; curl un-stuffs dot lines and
# keeps the CRLFs; --remove-on-error drops the file of a transfer that
# failed, as a script that keeps only whole messages does) and, when told to
# delete, after all of them a DELE request
# per message (`--request DELE --head`: no body expected). curl reuses one
# connection for the URLs of the second run, so RETRs and DELEs share a session
# and QUIT ends it. An empty scan listing ends the driver after the first run.
#
# How the scenario's settings map:
#   TLS none      pop3:// without --ssl (curl never tries STLS then)
#   TLS starttls  pop3:// with --ssl-reqd (STLS required), --cacert CA
#   TLS implicit  pop3s:// with --cacert CA
#   AUTH user     no login options: curl has no option that means USER/PASS
#                 (its AUTH= login option names a SASL mechanism, * or +APOP).
#                 Left to itself curl tries SASL (mechanisms in CAPA), then APOP
#                 (a timestamp in the greeting), then USER/PASS (USER in CAPA,
#                 or CAPA refused): against a server whose CAPA lists SASL PLAIN
#                 (the harness's default list does) curl logs in with AUTH PLAIN
#   AUTH apop     --login-options AUTH=+APOP
#   AUTH plain    --login-options AUTH=PLAIN (SASL PLAIN)
#   AUTH any      no login options (curl's choice, as for user)
#   DELETE 0/1    no DELE / DELE of each message after all were saved
set -euo pipefail
source "$(dirname "$0")/common.sh"

case "$host" in *:*) url_host="[$host]" ;; *) url_host="$host" ;; esac
opts=(--silent --show-error --user "$user:$pass")
case "$tls" in
  none) scheme=pop3 ;;
  starttls) scheme=pop3 opts+=(--ssl-reqd --cacert "$cafile") ;;
  implicit) scheme=pop3s opts+=(--cacert "$cafile") ;;
esac
case "$auth" in
  apop) opts+=(--login-options 'AUTH=+APOP') ;;
  plain) opts+=(--login-options 'AUTH=PLAIN') ;;
  user | any) ;;
esac
base="$scheme://$url_host:$port"

code=0
curl "${opts[@]}" "$base/" > "$conf/list" || code=$?
[ "$code" = 0 ] || exit "$code"

# The scan listing: "N OCTETS" per line (CRLF endings).
numbers=()
while read -r number _; do
  number="${number%$'\r'}"
  case "$number" in '' | *[!0-9]*) continue ;; esac
  numbers+=("$number")
done < "$conf/list"
[ "${#numbers[@]}" -gt 0 ] || exit 0

requests=()
i=0
for number in "${numbers[@]}"; do
  i=$((i + 1))
  [ "${#requests[@]}" = 0 ] || requests+=(--next "${opts[@]}")
  requests+=(--remove-on-error --output "$out/$(printf %04d "$i")" "$base/$number")
done
if [ "$delete" = 1 ]; then
  for number in "${numbers[@]}"; do
    requests+=(--next "${opts[@]}" --request DELE --head "$base/$number")
  done
fi
run_client curl "${opts[@]}" "${requests[@]}"
