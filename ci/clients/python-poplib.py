#!/usr/bin/env python3
"""pop3spec client driver for Python's standard poplib (the python3 on PATH).

    pop3spec client --command ci/clients/python-poplib.py

What a careful poplib script does, once: connect, log in, LIST, RETR every
message into its own file in POP3SPEC_OUT (0001, 0002, ... in LIST order; poplib
un-stuffs dot lines and splits lines, the driver joins them with LF), DELE each
saved one after all were saved when told to delete, QUIT. An -ERR to one RETR
or DELE (poplib raises error_proto) skips that message and the script carries
on; a refused login or LIST ends the session with QUIT.

How the scenario's settings map:
  TLS none      poplib.POP3
  TLS starttls  poplib.POP3, then stls(context) (poplib sends CAPA and refuses
                when STLS is not listed); nothing is sent after a failed stls()
  TLS implicit  poplib.POP3_SSL(context)
                context: ssl.create_default_context(cafile=CA) (certificate
                chain and host name verified, CERT_REQUIRED)
  AUTH user     user() + pass_()
  AUTH apop     apop() (poplib raises when the greeting has no timestamp)
  AUTH plain    poplib has no SASL: the driver sends `AUTH PLAIN <initial
                response>` (RFC 5034) through poplib's _shortcmd, the one line a
                poplib user writes for it
  AUTH any      user() + pass_(), what poplib scripts use
  DELETE 0/1    no DELE / dele(n) for each message after all RETRs

Exit status 1 after any -ERR; a socket or TLS error (and a failed stls())
ends the session where it happens, without QUIT.
"""
import base64
import os
import poplib
import ssl
import sys


def env(name):
    value = os.environ.get("POP3SPEC_" + name)
    if not value:
        sys.exit(f"python-poplib.py: POP3SPEC_{name} is not set (run me through pop3spec client)")
    return value


def main():
    host, port = env("HOST"), int(env("PORT"))
    user, password = env("USER"), env("PASS")
    out, tls = env("OUT"), env("TLS")
    delete, auth = env("DELETE") == "1", env("AUTH")
    context = None
    if tls != "none":
        context = ssl.create_default_context(cafile=env("CAFILE"))

    if tls == "implicit":
        pop = poplib.POP3_SSL(host, port, context=context)
    else:
        pop = poplib.POP3(host, port)
        if tls == "starttls":
            pop.stls(context)

    try:
        if auth == "apop":
            pop.apop(user, password)
        elif auth == "plain":
            token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
            pop._shortcmd("AUTH PLAIN " + token.decode())
        else:
            pop.user(user)
            pop.pass_(password)
        _, listing, _ = pop.list()
    except poplib.error_proto:
        pop.quit()
        raise
    numbers = [int(line.split()[0]) for line in listing]
    saved, refused = [], []
    for index, number in enumerate(numbers, 1):
        try:
            _, lines, _ = pop.retr(number)
        except poplib.error_proto as error:
            refused.append(f"RETR {number}: {error}")
            continue
        with open(os.path.join(out, f"{index:04d}"), "wb") as stored:
            stored.write(b"".join(line + b"\n" for line in lines))
        saved.append(number)
    if delete:
        for number in saved:
            try:
                pop.dele(number)
            except poplib.error_proto as error:
                refused.append(f"DELE {number}: {error}")
    pop.quit()
    if refused:
        sys.exit("python-poplib.py: refused: " + "; ".join(refused))


if __name__ == "__main__":
    try:
        main()
    except (poplib.error_proto, OSError) as error:
        sys.exit(f"python-poplib.py: {type(error).__name__}: {error}")
