#!/usr/bin/python3
"""An independent implementation of Gatehouse's password-protected export format.

Written from the README ("Data protection" / "Password-protected exports") alone,
with Python's `cryptography` package, so that the Go tests can prove a file
Gatehouse writes can be decrypted elsewhere (and the reverse).

    exportcrypt.py decrypt IN OUT             password: first line of stdin
    exportcrypt.py encrypt IN OUT [CHUNKSIZE]

Exit status 0 on success; 1 with a message on stderr on a wrong password or a
damaged, truncated or tampered file, and OUT is then not created.
"""

import hashlib
import os
import struct
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

MAGIC = b"GHEXPENC"
VERSION = 1
HEADER_SIZE = 89
TAG = 16
CHECK_INDEX = 0xFFFFFFFF


class Refused(Exception):
    pass


def derive(password, salt, iterations):
    return PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(password)


def nonce(prefix, index):
    return prefix + struct.pack(">I", index)


def chunk_aad(header, index, last):
    return header + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


def decrypt(src, dst, password):
    header = src.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE:
        raise Refused("truncated: the file ends inside its header")
    if header[0:8] != MAGIC:
        raise Refused("not an encrypted export")
    if header[8] != VERSION:
        raise Refused("unsupported version %d" % header[8])
    if hashlib.sha256(header[0:57]).digest() != header[57:89]:
        raise Refused("damaged header: checksum mismatch")
    (iterations,) = struct.unpack(">I", header[9:13])
    salt = header[13:29]
    (chunk_size,) = struct.unpack(">I", header[29:33])
    prefix = header[33:41]
    if not 100_000 <= iterations <= 10_000_000:
        raise Refused("iterations %d out of bounds" % iterations)
    if not 1024 <= chunk_size <= 4_194_304:
        raise Refused("chunk size %d out of bounds" % chunk_size)
    aes = AESGCM(derive(password, salt, iterations))
    try:
        aes.decrypt(nonce(prefix, CHECK_INDEX), header[41:57], header[0:41])
    except InvalidTag:
        raise Refused("wrong password")

    full = chunk_size + TAG
    index = 0
    pending = src.read(full)
    while True:
        if index >= CHECK_INDEX:
            raise Refused("too many chunks")
        following = src.read(1)
        last = following == b""
        if len(pending) < TAG:
            raise Refused("truncated: chunk %d is shorter than a tag" % index)
        if not last and len(pending) != full:
            raise Refused("short chunk %d in the middle" % index)
        try:
            dst.write(aes.decrypt(nonce(prefix, index), pending, chunk_aad(header, index, last)))
        except InvalidTag:
            raise Refused("chunk %d does not authenticate (altered, truncated, reordered or extended)" % index)
        if last:
            return
        index += 1
        pending = following + src.read(full - 1)


def encrypt(src, dst, password, chunk_size):
    iterations = 200_000
    salt = os.urandom(16)
    prefix = os.urandom(8)
    aes = AESGCM(derive(password, salt, iterations))
    head = MAGIC + bytes([VERSION]) + struct.pack(">I", iterations) + salt + struct.pack(">I", chunk_size) + prefix
    head += aes.encrypt(nonce(prefix, CHECK_INDEX), b"", head)
    header = head + hashlib.sha256(head).digest()
    assert len(header) == HEADER_SIZE
    dst.write(header)
    index = 0
    data = src.read(chunk_size)
    while True:
        following = src.read(chunk_size)
        last = following == b""
        dst.write(aes.encrypt(nonce(prefix, index), data, chunk_aad(header, index, last)))
        if last:
            return
        index += 1
        data = following


def main(argv):
    if len(argv) < 4 or argv[1] not in ("decrypt", "encrypt"):
        print(__doc__, file=sys.stderr)
        return 2
    password = sys.stdin.buffer.readline().rstrip(b"\r\n")
    partial = argv[3] + ".part"
    try:
        with open(argv[2], "rb") as src, open(partial, "wb") as dst:
            if argv[1] == "decrypt":
                decrypt(src, dst, password)
            else:
                encrypt(src, dst, password, int(argv[4]) if len(argv) > 4 else 65536)
    except Refused as e:
        os.remove(partial)
        print("refused: %s" % e, file=sys.stderr)
        return 1
    os.replace(partial, argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
