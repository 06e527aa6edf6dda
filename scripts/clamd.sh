#!/usr/bin/env bash
# ClamAV daemon (and ffprobe) for development and tests, without freshclam: clamd runs on a signature
# database this script writes itself (one signature, for the EICAR test file), in a directory of its own.
#
#   scripts/clamd.sh install            install Debian's clamav-daemon and ffmpeg (ffprobe) when missing
#   scripts/clamd.sh run DIR PORT       write config + signatures into DIR, run clamd in the FOREGROUND on
#                                       127.0.0.1:PORT (test/support/clamd.ts starts and stops it this way)
#   scripts/clamd.sh start DIR PORT     the same in the background (pid in DIR/clamd.pid), waits until it answers
#   scripts/clamd.sh stop DIR           stop the clamd started by `start` in DIR
#
# Real deployments use the distribution's clamd with freshclam-maintained databases; see the README.
set -euo pipefail

EICAR_SUBSTRING='EICAR-STANDARD-ANTIVIRUS-TEST-FILE'

need_install() {
  local missing=()
  command -v clamd >/dev/null 2>&1 || [ -x /usr/sbin/clamd ] || missing+=(clamav-daemon)
  command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
  echo "${missing[@]:-}"
}

install() {
  local missing
  missing="$(need_install)"
  [ -z "$missing" ] && return 0
  echo "clamd.sh: installing $missing (apt)" >&2
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  # An install can fail on a stale or absent package list: refresh it once and try again.
  if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
  [ -z "$(need_install)" ] || { echo "clamd.sh: could not install $(need_install)" >&2; exit 1; }
}

clamd_bin() {
  command -v clamd 2>/dev/null || echo /usr/sbin/clamd
}

write_config() {
  local dir="$1" port="$2"
  mkdir -p "$dir/db"
  local hex
  hex="$(printf '%s' "$EICAR_SUBSTRING" | od -An -tx1 | tr -d ' \n')"
  # A body signature (.ndb: Name:TargetType:Offset:HexSignature) finds EICAR anywhere in a file. ScanImageFuzzyHash no:
  # ClamAV 1.x otherwise decodes every image to fuzzy-hash it (~45 ms of CPU per 1.2 MP JPEG, ~7x the rest of a scan);
  # only signatures written against image fuzzy hashes need it (see the README, Scanning).
  printf 'Eicar-Test-Signature:0:*:%s\n' "$hex" >"$dir/db/test-signatures.ndb"
  cat >"$dir/clamd.conf" <<EOF
DatabaseDirectory $dir/db
TCPSocket $port
TCPAddr 127.0.0.1
LocalSocket $dir/clamd.sock
Foreground true
LogFile $dir/clamd.log
LogTime true
PidFile $dir/clamd.pid
StreamMaxLength 256M
MaxScanSize 256M
MaxFileSize 256M
MaxThreads 4
ReadTimeout 30
CommandReadTimeout 10
SelfCheck 0
ScanImageFuzzyHash no
EOF
}

wait_ready() {
  local port="$1" pid="$2"
  for _ in $(seq 1 200); do
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
      printf 'zPING\0' >&3
      local reply
      reply="$(timeout 2 head -c 4 <&3 || true)"
      exec 3>&- 3<&-
      [ "$reply" = "PONG" ] && return 0
    fi
    sleep 0.05
  done
  return 1
}

cmd="${1:-}"
case "$cmd" in
  install)
    install
    ;;
  run)
    dir="${2:?usage: clamd.sh run DIR PORT}"
    port="${3:?usage: clamd.sh run DIR PORT}"
    [ -x "$(clamd_bin)" ] || install
    write_config "$dir" "$port"
    exec "$(clamd_bin)" --foreground --config-file="$dir/clamd.conf"
    ;;
  start)
    dir="${2:?usage: clamd.sh start DIR PORT}"
    port="${3:?usage: clamd.sh start DIR PORT}"
    [ -x "$(clamd_bin)" ] || install
    write_config "$dir" "$port"
    "$(clamd_bin)" --foreground --config-file="$dir/clamd.conf" >"$dir/clamd.out" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/clamd.pid"
    if ! wait_ready "$port" "$pid"; then
      echo "clamd.sh: clamd did not answer on 127.0.0.1:$port; see $dir/clamd.out and $dir/clamd.log" >&2
      kill "$pid" 2>/dev/null || true
      exit 1
    fi
    echo "clamd listening on 127.0.0.1:$port (pid $pid)"
    ;;
  stop)
    dir="${2:?usage: clamd.sh stop DIR}"
    if [ -f "$dir/clamd.pid" ]; then
      pid="$(cat "$dir/clamd.pid")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      rm -f "$dir/clamd.pid"
    fi
    ;;
  *)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
