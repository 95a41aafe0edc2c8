#!/bin/sh
# bundle.sh - a CA bundle (ca.crt) from PEM files: what sluice verifies
# upstream servers against (originatingTLS.trustedCA).
#
#   certs/bundle.sh OUT.crt CA.crt [CA.crt...]
#   certs/bundle.sh OUT.crt --system CA.crt...   (also the system roots)
#
# Every input must hold at least one certificate; private keys are refused.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 OUT.crt [--system] CA.crt..." >&2; exit 2; }
out=$1; shift
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for f in "$@"; do
	if [ "$f" = --system ]; then
		f=/etc/ssl/certs/ca-certificates.crt
	fi
	if grep -q "PRIVATE KEY" "$f"; then
		echo "$0: $f holds a private key: refusing to bundle it" >&2
		exit 1
	fi
	n=$(grep -c "BEGIN CERTIFICATE" "$f" || true)
	[ "$n" -gt 0 ] || { echo "$0: $f: no PEM certificate" >&2; exit 1; }
	openssl x509 -in "$f" -noout 2>/dev/null || { echo "$0: $f: unreadable certificate" >&2; exit 1; }
	cat "$f" >> "$tmp"
done
mv "$tmp" "$out"
trap - EXIT
chmod 0644 "$out"
echo "$out: $(grep -c 'BEGIN CERTIFICATE' "$out") certificate(s)"
