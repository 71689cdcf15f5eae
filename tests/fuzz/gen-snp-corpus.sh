#!/bin/sh
# Regenerate the synthetic seed corpora of fuzz-snp-report and fuzz-snp-cert (no AMD data: the
# reports are built from the field offsets of SNP ABI 56860, the certificates are self-made with
# AMD's extension OIDs). Run from the repository root: tests/fuzz/gen-snp-corpus.sh
set -eu
out=tests/fuzz/corpus
mkdir -p "$out/snp-report" "$out/snp-cert"
python3 - "$out/snp-report" <<'PY'
import struct, sys, os
d = sys.argv[1]
def report(version, fam=0, mod=0, tcb=bytes([3,0,0,0,0,0,8,0x73]), key_info=0, sig_algo=1, chip=b'\x11'*64):
    b = bytearray(0x4A0)
    struct.pack_into('<IIQ', b, 0, version, 1, 0x30000)
    struct.pack_into('<II', b, 0x30, 0, sig_algo)
    for off in (0x38, 0x180, 0x1E0, 0x1F0):
        b[off:off+8] = tcb
    struct.pack_into('<Q', b, 0x40, 1)
    struct.pack_into('<I', b, 0x48, key_info)
    b[0x90:0x90+48] = bytes(range(48))
    if version >= 3:
        b[0x188], b[0x189], b[0x18A] = fam, mod, 1
    b[0x1A0:0x1A0+64] = chip
    b[0x1E8:0x1EC] = bytes([4, 52, 1, 0])
    b[0x1EC:0x1F0] = bytes([4, 52, 1, 0])
    if version >= 5:
        struct.pack_into('<QQ', b, 0x1F8, 3, 7)
    b[0x2A0:0x2A0+72] = b'\x01' * 48 + bytes(24)
    b[0x2E8:0x2E8+72] = b'\x02' * 48 + bytes(24)
    return bytes(b)
seeds = {
    'v2-milan.bin': report(2),
    'v3-genoa.bin': report(3, 0x19, 0x11),
    'v3-turin.bin': report(3, 0x1A, 0x02, tcb=bytes([1,2,3,4,0,0,0,9]), chip=bytes.fromhex('1e550a8ee5cf9f4d') + bytes(56)),
    'v5-milan-vlek.bin': report(5, 0x19, 0x01, key_info=1 << 2),
    'v2-unsigned.bin': report(2, key_info=7 << 2, sig_algo=0),
    'v2-masked-chip.bin': report(2, chip=bytes(64)),
    'short.bin': report(2)[:100],
}
for name, data in seeds.items():
    open(os.path.join(d, name), 'wb').write(data)
open(os.path.join(d, 'v3-turin.hex'), 'w').write(seeds['v3-turin.bin'].hex())
open(os.path.join(d, 'v2-milan-spaced.hex'), 'w').write(' '.join(seeds['v2-milan.bin'][i:i+16].hex() for i in range(0, 0x4A0, 16)))
PY
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pss="-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 -sigopt rsa_mgf1_md:sha384 -sha384"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/ca.key" 2>/dev/null
openssl req -x509 -new -key "$tmp/ca.key" -subj "/CN=ARK-Milan" -days 3650 $pss -out "$tmp/ark.pem"
openssl req -x509 -new -key "$tmp/ca.key" -subj "/CN=SEV-Milan" -days 3650 $pss -out "$tmp/ask.pem"
openssl ecparam -name secp384r1 -genkey -noout -out "$tmp/vcek.key"
for v in milan turin vlek; do
	case $v in
	milan) cn=SEV-VCEK; ext="-addext 1.3.6.1.4.1.3704.1.2=DER:16084d696c616e2d4230 -addext 1.3.6.1.4.1.3704.1.3.1=DER:020103 -addext 1.3.6.1.4.1.3704.1.3.2=DER:020100 -addext 1.3.6.1.4.1.3704.1.3.3=DER:020108 -addext 1.3.6.1.4.1.3704.1.3.8=DER:020173 -addext 1.3.6.1.4.1.3704.1.4=DER:$(printf '11%.0s' $(seq 64))" ;;
	turin) cn=SEV-VCEK; ext="-addext 1.3.6.1.4.1.3704.1.2=DER:1605547572696e -addext 1.3.6.1.4.1.3704.1.3.9=DER:020100 -addext 1.3.6.1.4.1.3704.1.3.1=DER:020102 -addext 1.3.6.1.4.1.3704.1.3.8=DER:020109 -addext 1.3.6.1.4.1.3704.1.4=DER:1e550a8ee5cf9f4d" ;;
	vlek) cn=SEV-VLEK; ext="-addext 1.3.6.1.4.1.3704.1.2=DER:160547656e6f61 -addext 1.3.6.1.4.1.3704.1.3.1=DER:0201ff -addext 1.3.6.1.4.1.3704.1.3.2=DER:0202ffff" ;;
	esac
	# shellcheck disable=SC2086
	openssl req -new -key "$tmp/vcek.key" -subj "/CN=$cn" $ext -out "$tmp/$v.csr"
	openssl x509 -req -in "$tmp/$v.csr" -CA "$tmp/ask.pem" -CAkey "$tmp/ca.key" -days 3650 \
		-copy_extensions copyall $pss -out "$tmp/$v.pem" 2>/dev/null
	openssl x509 -in "$tmp/$v.pem" -outform der -out "$out/snp-cert/$v.der"
done
cp "$tmp/milan.pem" "$out/snp-cert/milan.pem"
cat "$tmp/ask.pem" "$tmp/ark.pem" >"$out/snp-cert/cert_chain"
