#!/bin/sh
# make-ca.sh - a certificate authority for TLS interception.
#
#   certs/make-ca.sh OUTDIR [--name "Example Interception CA"] [--days N] [--rsa]
#
# Writes OUTDIR/ca.crt (give it to clients as a trusted root) and
# OUTDIR/ca.key (mode 0600; keep it off the cluster: sluice never needs it).
# ECDSA P-256 by default (cheap handshakes), RSA-2048 with --rsa.
set -eu
usage() { echo "usage: $0 OUTDIR [--name CN] [--days N] [--rsa]" >&2; exit 2; }
[ $# -ge 1 ] || usage
out=$1; shift
name="sluice interception CA"; days=365; alg=ec
while [ $# -gt 0 ]; do
	case $1 in
	--name) name=$2; shift 2 ;;
	--days) days=$2; shift 2 ;;
	--rsa) alg=rsa; shift ;;
	*) usage ;;
	esac
done
mkdir -p "$out"
umask 077
if [ "$alg" = rsa ]; then
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/ca.key" 2>/dev/null
else
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/ca.key"
fi
umask 022
openssl req -x509 -new -key "$out/ca.key" -sha256 -days "$days" -subj "/CN=$name" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-addext "subjectKeyIdentifier=hash" \
	-out "$out/ca.crt"
chmod 0600 "$out/ca.key"
echo "$out/ca.crt: CA \"$name\" (key $out/ca.key, 0600)"
