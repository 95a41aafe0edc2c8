#!/bin/sh
# make-leaf.sh - a server certificate signed by a CA from make-ca.sh.
#
#   certs/make-leaf.sh CADIR OUTDIR NAME [NAME...] [--days N] [--rsa]
#
# Each NAME becomes a subjectAltName: an IP address as IP:, anything else as
# DNS: (wildcards like *.example.com allowed); the first is also the CN.
# Writes OUTDIR/tls.key (0600) and OUTDIR/tls.crt (the leaf followed by the
# CA, the chain a server sends), the file names of a kubernetes.io/tls
# secret, ready for `sluice secret create tls NS/NAME --cert
# OUTDIR/tls.crt --key OUTDIR/tls.key`.
set -eu
usage() { echo "usage: $0 CADIR OUTDIR NAME [NAME...] [--days N] [--rsa]" >&2; exit 2; }
[ $# -ge 3 ] || usage
ca=$1; out=$2; shift 2
days=90; alg=ec; names=
while [ $# -gt 0 ]; do
	case $1 in
	--days) days=$2; shift 2 ;;
	--rsa) alg=rsa; shift ;;
	-*) usage ;;
	*) names="$names $1"; shift ;;
	esac
done
[ -n "$names" ] || usage
[ -r "$ca/ca.crt" ] && [ -r "$ca/ca.key" ] || { echo "$0: $ca: no ca.crt/ca.key" >&2; exit 1; }
san=
cn=
for n in $names; do
	[ -n "$cn" ] || cn=$n
	case $n in
	*[!0-9.]*) case $n in *:*) t=IP ;; *) t=DNS ;; esac ;;
	*) t=IP ;;
	esac
	san="${san:+$san,}$t:$n"
done
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
umask 077
if [ "$alg" = rsa ]; then
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/tls.key" 2>/dev/null
else
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/tls.key"
fi
umask 022
openssl req -new -key "$out/tls.key" -subj "/CN=$cn" -out "$tmp/req.csr"
cat > "$tmp/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san
EXT
openssl x509 -req -in "$tmp/req.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" \
	-CAcreateserial -CAserial "$tmp/ca.srl" -days "$days" -sha256 \
	-extfile "$tmp/ext.cnf" -out "$tmp/leaf.crt" 2>/dev/null
cat "$tmp/leaf.crt" "$ca/ca.crt" > "$out/tls.crt"
chmod 0600 "$out/tls.key"
echo "$out/tls.crt: $san (key $out/tls.key, 0600)"
