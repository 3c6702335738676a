#!/bin/sh
# lycredit end-to-end walkthrough on the embedded SQLite default.
# Run from the repository root after 'pip install -e .':   sh samples/walkthrough.sh
# It works in ./walkthrough-out (removed and made anew each run).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${WALKTHROUGH_DIR:-walkthrough-out}
rm -rf "$out" && mkdir -p "$out" && cd "$out"
export LYCREDIT_KEY_PASSPHRASE=${LYCREDIT_KEY_PASSPHRASE:-walkthrough-passphrase}
step() { printf '\n== %s\n' "$*" >&2; }

step "1. Create the database (sqlite:///lycredit.db) and the first administrator"
lycredit db init --admin admin --admin-key admin.key \
    --unit-code 11211382MB1234567Y --unit-name 凌源市发展和改革局 --origin lycredit.lingyuan/walkthrough
lycredit db status

step "2. Register a provider (market regulation bureau) and an auditor, each with its own key"
scjg=$(lycredit key generate --out scjg.key)
lycredit --key admin.key operator add scjg-01 --role provider \
    --unit-code 11211382MB7654321U --unit-name 凌源市市场监督管理局 --public-key "$scjg"
aud=$(lycredit key generate --out auditor.key)
lycredit --key admin.key operator add audit-01 --role auditor \
    --unit-code 11211382MB1234567Y --public-key "$aud"
lycredit operator list

step "3. A provider may not register operators: refused (exit 77) and the refusal is logged"
if lycredit --key scjg.key operator add x-01 --role admin --unit-code 11211382MB1234567Y \
    --public-key "$aud"; then echo "unexpected success" >&2; exit 1; fi

step "4. Rotate the provider's key with a 7-day overlap"
new=$(lycredit key generate --out scjg-2027.key)
lycredit --key admin.key key rotate scjg-01 --public-key "$new" --overlap-days 7 --reason "annual rotation"
lycredit operator show scjg-01

step "5. Verify the signed log against the data and anchor the latest checkpoint"
lycredit audit verify
lycredit audit anchor --out anchors
lycredit audit verify --anchor anchors

step "Done: the database is $out/lycredit.db"
