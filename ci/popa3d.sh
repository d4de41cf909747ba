#!/usr/bin/env bash
# Runs the suite against a real popa3d, and compares the results with
# ci/popa3d/default.known.
#
#   ci/popa3d.sh [extra pop3spec run flags...]
#
# popa3d has no configuration: it serves system users (PAM) their mbox in
# /var/mail, and its standalone mode listens on 0.0.0.0:110, so it runs here in
# its inetd mode under socat listening on 127.0.0.1 (one popa3d per
# connection, on the connection itself). The script adds throwaway system
# users (p3spd-a1/p3spd-b1 ... p3spd-aN/p3spd-bN, no shell) and removes them
# and their /var/mail files on exit; pop3spec seeds the mboxes with --mbox.
# JOBS (default 4) scenarios run at once, one account pair per job.
#
# Needs: socat, useradd/userdel/chpasswd (root), and popa3d: the popa3d
# package, or, since Debian lets only one POP3 server package be installed
# (popa3d conflicts with dovecot-pop3d), its binary unpacked here from
# `apt-get download popa3d` (POPA3D names another). popa3d drops privileges to
# the user `popa3d` in /var/lib/popa3d; both are made if missing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
known="$ci_here/popa3d/default.known"
ci_init popa3d

popa3d="${POPA3D:-/usr/sbin/popa3d}"
if [ ! -x "$popa3d" ]; then
  (cd "$work" && apt-get download -q popa3d >/dev/null 2>&1) || {
    echo "no popa3d: install popa3d, or let apt-get download fetch it" >&2
    exit 2
  }
  dpkg-deb -x "$work"/popa3d_*.deb "$work/pkg"
  popa3d="$work/pkg/usr/sbin/popa3d"
fi
if ! id popa3d >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /var/lib/popa3d \
    --shell /usr/sbin/nologin popa3d
  ci_on_exit+=("userdel popa3d >/dev/null 2>&1")
fi
mkdir -p /var/lib/popa3d /var/mail

port=$(ci_port)
pass1="pw-$RANDOM$RANDOM"; pass2="pw2-$RANDOM$RANDOM"

add_user() { # NAME PASSWORD
  userdel "$1" >/dev/null 2>&1 || true
  useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    --no-user-group --gid mail "$1"
  ci_on_exit+=("userdel $1 >/dev/null 2>&1; rm -f /var/mail/$1 /var/mail/$1.lock")
  echo "$1:$2" | chpasswd
  install -m 660 -o "$1" -g mail /dev/null "/var/mail/$1"
}
for n in $(seq "$ci_jobs"); do
  add_user "p3spd-a$n" "$pass1"
  add_user "p3spd-b$n" "$pass2"
done

socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "EXEC:$popa3d,nofork" \
  > "$work/socat.log" 2>&1 &
ci_pids+=($!)
ci_wait_port "$port" "$work/socat.log"

# popa3d has no CAPA; it implements USER/PASS, TOP and UIDL (RFC 1939), which
# --capability declares so the scenarios that need them run.
ci_run_and_compare popa3d "$known" "$work/socat.log" \
  --host 127.0.0.1 --port "$port" --capability USER,TOP,UIDL \
  --user-template 'p3spd-a{job}' --pass "$pass1" \
  --user2-template 'p3spd-b{job}' --pass2 "$pass2" \
  --mbox-template '/var/mail/{user}' "$@"
