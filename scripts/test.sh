#!/usr/bin/env bash
# The whole test suite: unit specs and e2e tests against real PostgreSQL, Redis, an S3-protocol server and clamd.
# Installs and starts what the machine lacks, and stops what it started. Used by `npm test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

started=()
cleanup() {
  for s in "${started[@]:-}"; do
    case "$s" in
      redis) redis-cli -h 127.0.0.1 -p 6379 shutdown nosave >/dev/null 2>&1 || true ;;
    esac
  done
}
trap cleanup EXIT

# PostgreSQL and Redis run on machines of our kind; start them if they are installed but stopped.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "test: PostgreSQL is not answering on 127.0.0.1:5432; trying to start it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "test: Redis is not answering on 127.0.0.1:6379; starting one for the tests"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  started+=(redis)
fi

[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
# ESLint (with types) and Prettier's check: a lint error fails the run before the tests start.
npm run lint --silent
# The committed OpenAPI document under Redocly's rules (redocly.yaml): no errors, no warnings.
npm run lint:openapi --silent

# clamd (Debian clamav-daemon) and ffprobe (Debian ffmpeg) for the scanning and media tests: installed with apt
# when missing. Each test starts and stops its own clamd on a free port (test/support/clamd.ts); no freshclam.
bash scripts/clamd.sh install

# Chromium (Debian's) for the browser upload page tests (test/browser-upload*.e2e-spec.ts, driven by playwright-core
# with executablePath /usr/bin/chromium): installed with apt when missing.
if [ ! -x /usr/bin/chromium ]; then
  echo "test: installing chromium (apt) for the browser tests" >&2
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  [ -x /usr/bin/chromium ] || { echo "test: could not install chromium" >&2; exit 1; }
fi

# The S3-protocol server (@20minutes/s3rver, verifies SigV4) is started in-process by the tests that need it.
npx jest --ci "$@"
