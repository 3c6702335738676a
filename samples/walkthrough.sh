#!/bin/sh
# lycredit end-to-end walkthrough on the embedded SQLite default (sqlite:///lycredit.db).
# Run from anywhere after 'pip install -e .':   sh samples/walkthrough.sh
# It works in ./walkthrough-out (removed and made anew each run) with the files in samples/.
set -eu
samples=$(cd "$(dirname "$0")" && pwd)
out=${WALKTHROUGH_DIR:-walkthrough-out}
rm -rf "$out" && mkdir -p "$out" && cd "$out"
export LYCREDIT_KEY_PASSPHRASE=${LYCREDIT_KEY_PASSPHRASE:-walkthrough-passphrase}
# Resident ID numbers are encrypted under a key kept outside the database (here: a demo key).
export LYCREDIT_PII_KEY=${LYCREDIT_PII_KEY:-$(python3 -c 'import base64; print(base64.b64encode(b"walkthrough-demo-key-32-bytes!!!").decode())')}
step() { printf '\n== %s\n' "$*" >&2; }
NDRC=11211382MB1234567Y          # 凌源市发展和改革局 (the platform's administrator)
SCJG=11211382013786428K          # 凌源市市场监督管理局 (provides the 双公示 penalty item)
COMPANY=91211382MA0XQ3L524       # 凌源市宏达建材有限责任公司, a subject of the sample penalties

step "1. Create the database and the first administrator (a new encrypted key admin.key)"
lycredit db init --admin admin --admin-key admin.key \
    --unit-code $NDRC --unit-name 凌源市发展和改革局 --origin lycredit.lingyuan/walkthrough
lycredit db status

step "2. Register operators, each with its own key: credit office staff, a provider, an auditor"
lycredit --key admin.key operator add ops-01 --role operator --unit-code $NDRC \
    --public-key "$(lycredit key generate --out ops.key)"
lycredit --key admin.key operator add scjg-01 --role provider --unit-code $SCJG \
    --unit-name 凌源市市场监督管理局 --public-key "$(lycredit key generate --out scjg.key)"
lycredit --key admin.key operator add audit-01 --role auditor --unit-code $NDRC \
    --public-key "$(lycredit key generate --out auditor.key)"
lycredit operator list

step "3. A provider may not register operators: refused with exit 77, and the refusal is logged"
if lycredit --key scjg.key operator add x-01 --role admin --unit-code $NDRC \
    --public-key "$(lycredit key generate --out x.key)"; then echo "unexpected success" >&2; exit 1; fi

step "4. Working days (Art. 10): a year's official schedule, and a deadline across National Day"
if lycredit calendar show 2027 >/dev/null 2>&1; then  # 78 while no schedule for 2027 is known
  echo "(the installed chinesecalendar already has the official 2027 schedule: nothing to import)" >&2
else
  lycredit --key ops.key calendar import "$samples/calendar/2027.csv" --reason "2027 schedule (sample)"
fi
lycredit calendar workdays 2026-09-28 --add 7

step "5. The catalog (Art. 9), in force from 2026-01-01"
lycredit --key ops.key catalog import "$samples/catalog/catalog-2026.csv" --version 2026 --effective 2026-01-01
lycredit catalog list

step "6. Credit subjects (Art. 3, 8): organisations and persons; ID numbers are stored encrypted"
lycredit --key ops.key subject import "$samples/subjects/subjects.csv"

step "7. The market regulation bureau bulk-imports its 双公示 penalties; bad rows go to a rejects file"
lycredit --key scjg.key --as-of 2026-11-27 record import "$samples/records/penalty-2026.csv" \
    --layout penalty --rejects rejects.csv
cat rejects.csv >&2
lycredit record list --late
lycredit record runs          # the import's run: done, its last row and its counts (an interrupted one: running)

step "8. Disclosure (Art. 13, 14): a public query, and government sharing (logged)"
lycredit --as-of 2026-11-27 query $COMPANY --purpose "信用核查示例"
lycredit --key scjg.key --as-of 2026-11-27 query $COMPANY --gov-share --purpose "行政许可前信用核查"

step "9. The subject's own report (Art. 30): sources, history, who looked at it"
lycredit --key ops.key --as-of 2026-11-27 report $COMPANY --html report.html

step "10. Nightly jobs: the expiry sweep (Art. 15) and the deadline check (Art. 10, 46; exit 1 = overdue)"
lycredit --key ops.key sweep expiry
lycredit --key ops.key --as-of 2032-01-01 sweep expiry --dry-run
lycredit deadline check || [ $? -eq 1 ]

step "11. Rotate the provider's key with a 7-day overlap"
lycredit --key admin.key key rotate scjg-01 --public-key "$(lycredit key generate --out scjg-2027.key)" \
    --overlap-days 7 --reason "annual rotation"

step "12. Verify the signed log against the data, anchor it, export a bundle and check it offline"
lycredit audit verify
lycredit audit anchor --out anchors
lycredit audit verify --anchor anchors
lycredit audit export --out bundle
python3 bundle/verify.py bundle
lycredit audit log --limit 5

step "Done: the database is $out/lycredit.db; the report is $out/report.html"
