#!/usr/bin/env bash
# Checks the client drivers (ci/clients/*) against the bundled reference
# server before they are trusted with the client suite: each driver runs the
# real client once per set-up below, and what it stored must be what the
# maildrop held (ci/clients/stored.py), and the maildrop afterwards must be
# empty when it was told to delete and untouched when it was told to keep.
#
#   ci/clients-reference.sh [DRIVER...]     (default: every driver)
#
# Set-ups: TLS none, STARTTLS and implicit TLS, each keeping and deleting, with
# USER/PASS; then APOP (no TLS), SASL PLAIN (STARTTLS) and the client's own
# choice (implicit TLS). The server's certificate is issued by a throwaway CA
# (openssl), given to the drivers as POP3SPEC_CAFILE. A driver that exits 77
# says the client cannot be configured so (see its header): reported, not a
# failure. The seeded messages carry dot lines (byte-stuffing), `From ` lines
# and one of 200 KB. Then what "require TLS and verify the certificate" must
# do: STARTTLS against a server without STLS, and STARTTLS and implicit TLS
# with a CA file that did not issue the certificate, must each end the client
# with nothing stored and nothing deleted.
#
# Needs: openssl, the clients (Debian: fetchmail mpop getmail6 curl python3),
# and a built pop3-reference-server: target/release/, else target/debug/ (as
# `cargo test --workspace` leaves it), or the one REFERENCE_SERVER names.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ci_init clients
server_bin="${REFERENCE_SERVER:-$ci_repo/target/release/pop3-reference-server}"
[ -n "${REFERENCE_SERVER:-}" ] || [ -x "$server_bin" ] ||
  server_bin="$ci_repo/target/debug/pop3-reference-server"
[ -x "$server_bin" ] || {
  echo "no $server_bin: run cargo build -p pop3-reference-server first" >&2
  exit 2
}
drivers=("$@")
[ "${#drivers[@]}" -gt 0 ] || drivers=(curl fetchmail getmail mpop python-poplib)

# A CA and a server certificate for localhost, 127.0.0.1 and ::1.
pki="$work/pki"
mkdir -p "$pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pop3spec test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
  -keyout "$pki/ca.key" -out "$pki/ca.pem" 2>/dev/null
# 127.0.0.1 is also the CN and a DNS-type name, as in pop3spec client's
# certificate: fetchmail matches host names against those only.
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$pki/server.key" -out "$pki/server.csr" 2>/dev/null
printf '%s\n' "subjectAltName=DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1,IP:::1" \
  "extendedKeyUsage=serverAuth" > "$pki/ext.cnf"
openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
  -CAcreateserial -days 2 -extfile "$pki/ext.cnf" -out "$pki/server.pem" 2>/dev/null

# The messages, one file each, LF line endings as Maildir stores them.
seed="$work/seed"
mkdir -p "$seed"
printf 'From: a@example.org\nSubject: dots\n\nhello\n.\n..\n.. two dots\n.end\n' > "$seed/1"
printf 'From: b@example.org\nSubject: from\n\nFrom the start\n>From quoted\nbody\n' > "$seed/2"
{
  printf 'From: c@example.org\nSubject: large\n\n'
  for i in $(seq 4000); do printf 'line %05d of a large message, with a dot next:\n.%d\n' "$i" "$i"; done
} > "$seed/3"

# reseed: the maildrop holds exactly the seed messages, numbered 1, 2, 3 by
# name, mtime and directory order alike.
maildrop="$work/mail/alice"
reseed() {
  rm -rf "$maildrop"
  mkdir -p "$maildrop/new" "$maildrop/cur" "$maildrop/tmp"
  local n
  for n in 1 2 3; do
    cp "$seed/$n" "$maildrop/new/100000000$n.seed$n.pop3spec"
    touch -d "2020-01-01 00:00:0$n" "$maildrop/new/100000000$n.seed$n.pop3spec"
  done
}
remaining() { find "$maildrop/new" "$maildrop/cur" -type f | wc -l; }

pass="pw-$RANDOM$RANDOM"
echo "alice:$pass" > "$work/users"
port=$(ci_port)
"$server_bin" --mail-root "$work/mail" --users "$work/users" \
  --listen "127.0.0.1:$port" --tls-listen "127.0.0.1:$((port + 1))" \
  --cert "$pki/server.pem" --key "$pki/server.key" --auth-failure-delay 0 \
  > "$work/server.log" 2>&1 &
ci_pids+=($!)
ci_wait_port "$port" "$work/server.log"

failures=0
# run DRIVER TLS AUTH DELETE [PORT [CAFILE]]: runs the driver on a fresh
# maildrop; sets $code, $label, $out and $log.
run() {
  local driver="$1" tls="$2" auth="$3" delete="$4" use_port="${5:-$port}"
  local cafile="${6:-$pki/ca.pem}" script
  script="$ci_repo/$(ci_client_driver "$driver")"
  [ "$tls" = implicit ] && [ -z "${5:-}" ] && use_port=$((port + 1))
  label=$(printf '%-14s tls=%-9s auth=%-6s delete=%s' "$driver" "$tls" "$auth" "$delete")
  out="$work/out" log="$work/client.log" code=0
  reseed
  rm -rf "$out" && mkdir "$out"
  POP3SPEC_HOST=127.0.0.1 POP3SPEC_PORT=$use_port POP3SPEC_USER=alice \
    POP3SPEC_PASS="$pass" POP3SPEC_OUT="$out" POP3SPEC_CAFILE="$cafile" \
    POP3SPEC_TLS=$tls POP3SPEC_AUTH=$auth POP3SPEC_DELETE=$delete \
    timeout 60 "$script" > "$log" 2>&1 || code=$?
}

# verdict WHAT PROBLEM...: prints the line for the last run.
verdict() {
  local what="$1"
  shift
  if [ "$code" = 77 ]; then
    echo "unsupported  $label$what: $(grep -m1 'unsupported' "$log")"
  elif [ "$#" = 0 ]; then
    echo "ok           $label$what"
  else
    echo "FAIL         $label$what: $*"
    sed 's/^/    | /' "$log" | tail -15
    failures=$((failures + 1))
  fi
}

# fetches DRIVER TLS AUTH DELETE: the client downloads every message, and
# deletes them all or none as told.
fetches() {
  run "$@"
  local problems=() left
  if [ "$code" != 77 ]; then
    [ "$code" = 0 ] || problems+=("exit status $code")
    python3 "$ci_here/clients/stored.py" "$out" "$seed" > "$work/stored.txt" ||
      problems+=("stored: $(tr '\n' ' ' < "$work/stored.txt")")
    left=$(remaining)
    if [ "$4" = 1 ] && [ "$left" != 0 ]; then problems+=("$left message(s) left after delete"); fi
    if [ "$4" = 0 ] && [ "$left" != 3 ]; then problems+=("$left of 3 message(s) left after keep"); fi
  fi
  verdict "" "${problems[@]}"
}

# refuses WHY DRIVER TLS AUTH DELETE PORT CAFILE: told to require TLS, the
# client must give up (status not 0) and neither store nor delete anything.
refuses() {
  local why="$1"
  shift
  run "$@"
  local problems=()
  if [ "$code" != 77 ]; then
    [ "$code" != 0 ] || problems+=("exit status 0")
    [ -z "$(find "$out" -type f)" ] || problems+=("it stored messages")
    [ "$(remaining)" = 3 ] || problems+=("messages were deleted")
  fi
  verdict " ($why)" "${problems[@]}"
}

# A second CA that did not issue the server's certificate, and a server
# without TLS (no STLS in CAPA) on a third port.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=another CA" \
  -keyout "$pki/other.key" -out "$pki/other.pem" 2>/dev/null
plain_port=$(ci_port)
"$server_bin" --mail-root "$work/mail" --users "$work/users" --no-tls \
  --listen "127.0.0.1:$plain_port" --auth-failure-delay 0 > "$work/plain.log" 2>&1 &
ci_pids+=($!)
ci_wait_port "$plain_port" "$work/plain.log"

for driver in "${drivers[@]}"; do
  for tls in none starttls implicit; do
    for delete in 0 1; do fetches "$driver" "$tls" user "$delete"; done
  done
  fetches "$driver" none apop 1
  fetches "$driver" starttls plain 1
  fetches "$driver" implicit any 0
  refuses "no STLS in CAPA" "$driver" starttls user 1 "$plain_port"
  refuses "certificate from another CA" "$driver" starttls user 1 "$port" "$pki/other.pem"
  refuses "certificate from another CA" "$driver" implicit user 1 "$((port + 1))" "$pki/other.pem"
done
echo "$failures failing set-up(s)"
[ "$failures" = 0 ]
