#!/bin/sh
# verify-unit.sh SYSTEMD-ANALYZE UNIT BINARY: `systemd-analyze verify` the unit with its
# s3batchd commands pointed at BINARY; any warning about the unit fails the test.
set -eu
analyze=$1 unit=$2 bin=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# every Exec*= line that runs s3batchd (ExecStart, the ExecReload check)
sed "s|^\(Exec[A-Za-z]*=\)[^ ]*/s3batchd |\1$bin |" "$unit" > "$dir/s3batchd.service"
out=$("$analyze" verify --man=no "$dir/s3batchd.service" 2>&1) || { echo "$out"; exit 1; }
# verify exits 0 on some problems (unknown settings): fail on any line naming our unit
if printf '%s\n' "$out" | grep -i 's3batchd.service'; then
        exit 1
fi
echo "unit OK"
