"""Compares a `pop3spec run --json` report with a server's known-deviations
file (ci/<server>/*.known), both ways: a failure or error not listed, or a
listed id that no longer fails, makes it exit 1. With UPDATE_KNOWN=1 it
rewrites the file from the report (keeping its reviewed header) for review.

    python3 ci/known.py REPORT.json KNOWN_FILE
"""
import json, os, sys
report, known_path = sys.argv[1], sys.argv[2]
results = json.load(open(report))["scenarios"]
bad = {r["id"]: r for r in results if r["outcome"] in ("fail", "error")}


def why(r):
    """The reason, else (client results give none for a fail) the finding."""
    return r.get("reason") or (r.get("finding") or {}).get("message") or ""

try:
    known = {}
    for line in open(known_path):
        line = line.split("#", 1)[0].strip()
        if line:
            known[line.split()[0]] = line
except FileNotFoundError:
    known = {}
if os.environ.get("UPDATE_KNOWN"):
    # Keep the reviewed header (the comment lines before the first id).
    header = []
    try:
        for line in open(known_path):
            if not line.startswith("#"):
                break
            header.append(line)
    except FileNotFoundError:
        header = [
            "# Scenarios that fail against this server set-up because the server deviates\n",
            "# from the RFC rule they check. One id per line; after # the rule and what\n",
            "# the server answered. Regenerate with UPDATE_KNOWN=1 ci/<server>.sh, then\n",
            "# review every line: a failure caused by the harness or a scenario is a bug to fix.\n",
        ]
    with open(known_path, "w") as out:
        out.writelines(header)
        for i in sorted(bad):
            r = bad[i]
            actual = ((r.get("finding") or {}).get("actual") or [""])[0]
            observed = f"; observed `{actual}`" if actual else ""
            out.write(f"{i}  # {r['spec']}: {why(r)}{observed}\n")
    print(f"wrote {known_path} with {len(bad)} id(s)")
    sys.exit(0)
new = sorted(set(bad) - set(known))
gone = sorted(set(known) - set(bad))
for i in new:
    r = bad[i]
    print(f"NEW FAILURE {i} ({r['spec']}): {why(r)}")
for i in gone:
    print(f"NO LONGER FAILING {i}: remove it from {known_path}")
print(f"{len(bad)} failing, {len(known)} known, {len(new)} new, {len(gone)} gone")
sys.exit(1 if new or gone else 0)
