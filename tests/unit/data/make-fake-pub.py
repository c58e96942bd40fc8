#!/usr/bin/env python3
"""Writes an RSA public key PEM of exactly BITS bits whose modulus is a
random odd number, not a product of two primes: enough to test size
bounds and public-key wrapping (OpenSSL does not factor a public key),
and instant where generating a real 16384-bit key takes minutes.
usage: make-fake-pub.py BITS OUT.pem"""
import base64, os, sys


def der_len(n):
    if n < 128:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def der_int(v):
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")  # room for the sign bit
    return tlv(0x02, b)


bits, out = int(sys.argv[1]), sys.argv[2]
n = int.from_bytes(os.urandom(bits // 8 + 1), "big")
n = (n >> (n.bit_length() - bits)) | (1 << (bits - 1)) | 1
rsa = tlv(0x30, der_int(n) + der_int(65537))
alg = tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
spki = tlv(0x30, alg + tlv(0x03, b"\x00" + rsa))
b64 = base64.encodebytes(spki).decode().replace("\n", "")
with open(out, "w") as f:
    f.write("-----BEGIN PUBLIC KEY-----\n")
    for i in range(0, len(b64), 64):
        f.write(b64[i:i + 64] + "\n")
    f.write("-----END PUBLIC KEY-----\n")
