#!/usr/bin/env bash
# `npm run lint:openapi`: Redocly's lint of the committed openapi.json (rules: redocly.yaml; the one accepted finding:
# .redocly.lint-ignore.yaml). Fails on any error AND on any warning (redocly itself exits 0 on warnings).
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true npx --no-install redocly lint openapi.json --format=stylish 2>&1)
rc=$?
printf '%s\n' "$out" | grep -v '[║╔╚]' | sed '/^\s*$/d'
[ "$rc" -eq 0 ] || exit "$rc"
if printf '%s\n' "$out" | grep -qE '^\s+[0-9]+:[0-9]+\s+warning\s'; then
  echo "lint:openapi: warnings are not allowed (fix the document, or say in .redocly.lint-ignore.yaml why one is right)" >&2
  exit 1
fi
