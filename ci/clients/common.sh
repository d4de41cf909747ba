# Shared by the client drivers in ci/clients/ (sourced after `set -euo pipefail`).
#
# `pop3spec client --command 'ci/clients/X.sh'` runs a driver once per client
# scenario. The driver reads what the scenario asks of the client from the
# environment, writes the client's own configuration into a throwaway folder,
# runs the client once in the foreground, and exits with the client's status:
#
#   POP3SPEC_HOST POP3SPEC_PORT   where the harness plays the server
#   POP3SPEC_USER POP3SPEC_PASS   the account
#   POP3SPEC_OUT                  an empty folder for what the client downloads
#                                 (Maildir, mbox file, or one file per message)
#   POP3SPEC_CAFILE               PEM of the CA the harness's certificate chains to
#   POP3SPEC_TLS     none | starttls | implicit   (not none: TLS is REQUIRED and
#                                 the certificate is verified against the CA file)
#   POP3SPEC_DELETE  0 | 1        keep the messages, or delete them after download
#   POP3SPEC_AUTH    user | apop | plain | any
#
# A setting the client cannot express is not approximated by another one (a
# client that cannot require STARTTLS would otherwise be judged as if it had
# been told to): the driver says so on stderr and exits 77, the "skipped"
# status of automake's test drivers.

EXIT_UNSUPPORTED=77

for var in HOST PORT USER PASS OUT TLS DELETE AUTH; do
  eval "[ -n \"\${POP3SPEC_$var:-}\" ]" || {
    echo "${0##*/}: POP3SPEC_$var is not set (run me through pop3spec client)" >&2
    exit 2
  }
done
host="$POP3SPEC_HOST" port="$POP3SPEC_PORT" user="$POP3SPEC_USER" pass="$POP3SPEC_PASS"
out="$POP3SPEC_OUT" tls="$POP3SPEC_TLS" delete="$POP3SPEC_DELETE" auth="$POP3SPEC_AUTH"
cafile="${POP3SPEC_CAFILE:-}"
case "$tls" in none | starttls | implicit) ;; *) echo "bad POP3SPEC_TLS=$tls" >&2; exit 2 ;; esac
case "$delete" in 0 | 1) ;; *) echo "bad POP3SPEC_DELETE=$delete" >&2; exit 2 ;; esac
case "$auth" in user | apop | plain | any) ;; *) echo "bad POP3SPEC_AUTH=$auth" >&2; exit 2 ;; esac
if [ "$tls" != none ] && [ ! -r "$cafile" ]; then
  echo "${0##*/}: POP3SPEC_TLS=$tls needs a readable POP3SPEC_CAFILE" >&2
  exit 2
fi

# unsupported WHAT: the client cannot be configured as the scenario asks.
unsupported() {
  echo "${0##*/}: unsupported: $*" >&2
  exit "$EXIT_UNSUPPORTED"
}

# The client's configuration, state and home live here, removed on exit.
conf="$(mktemp -d "${TMPDIR:-/tmp}/pop3spec-client.XXXXXX")"
trap 'rm -rf "$conf"' EXIT
chmod 700 "$conf"
export HOME="$conf"

# quote_dq STRING: STRING inside double quotes, with \ and " escaped (the
# quoting of fetchmailrc and mpoprc).
quote_dq() {
  local s="${1//\\/\\\\}"
  printf '"%s"' "${s//\"/\\\"}"
}

# run_client CMD...: runs the client in the foreground and exits with its status
# (the trap still removes $conf).
run_client() {
  local code=0
  "$@" || code=$?
  exit "$code"
}
