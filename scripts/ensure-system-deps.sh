#!/usr/bin/env bash
# Makes sure the system programs the test suite starts for real are present.
# As root on Debian/Ubuntu it installs what is missing; otherwise it names what to install.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
# The browser tests drive Debian's Chromium through playwright-core (no downloaded browsers).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# A real pseudo-terminal for the start-up line test (util-linux `script`; Essential on Debian).
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
# A real S3 implementation: Ceph's RADOS Gateway on a one-node cluster (tools/processes/ceph-rgw.ts).
for daemon in ceph-mon ceph-osd radosgw; do
  command -v "$daemon" >/dev/null 2>&1 || missing+=("$daemon")
done

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing test dependencies: ${missing[*]}" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "The tests need: ${missing[*]} (Debian/Ubuntu: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
