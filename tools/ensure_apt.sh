#!/usr/bin/env bash
# Install Debian packages the tests need, once: `tools/ensure_apt.sh COMMAND PACKAGE`.
# Does nothing when COMMAND is already on PATH. Installs only as root (CI, the development machines); otherwise it
# says so and exits 0, and the tests that need COMMAND skip with the reason.
set -euo pipefail
command_name=$1
package=$2
if command -v "$command_name" >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_apt: $command_name is missing and this is not root with apt-get; its tests will skip" >&2
    exit 0
fi
echo "ensure_apt: installing $package for $command_name" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$package" >/dev/null
command -v "$command_name" >/dev/null
