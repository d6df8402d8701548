#!/usr/bin/env python3
"""Builds data/mnist-binarized-14k.bzds.gz, the data set embedded in boltzmann.

Source: MNIST IDX files (see LICENSE-MNIST.md). Stdlib only:
    python3 data/make_default.py /path/to/shared/data/mnist data/mnist-binarized-14k.bzds.gz

Contents: 10,000 training images (MNIST train[0:10000]), 2,000 validation
images (MNIST train[50000:52000]) and 2,000 test images (MNIST t10k[0:2000]),
binarized as pixel/255 > 0.5 (pixel >= 128), with their labels.

Format (all little-endian), then gzip -9 -n:
  b"BZDS", u32 version=1, u32 n_train, u32 n_valid, u32 n_test, u32 rows, u32 cols,
  n labels (u8), then n images of ceil(rows*cols/8) bytes, pixel i in byte i//8, bit i%8.
"""
import gzip, struct, sys

src, dst = sys.argv[1], sys.argv[2]

def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    nd = magic & 0xFF
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return dims, data[4 + 4 * nd:]

(ntr, r, c), tr_img = idx(f"{src}/train-images-idx3-ubyte.gz")
(_,), tr_lab = idx(f"{src}/train-labels-idx1-ubyte.gz")
(nte, _, _), te_img = idx(f"{src}/t10k-images-idx3-ubyte.gz")
(_,), te_lab = idx(f"{src}/t10k-labels-idx1-ubyte.gz")
d = r * c
sel = [(tr_img, tr_lab, i) for i in range(0, 10000)]
sel += [(tr_img, tr_lab, i) for i in range(50000, 52000)]
sel += [(te_img, te_lab, i) for i in range(0, 2000)]
out = bytearray(b"BZDS" + struct.pack("<IIIIII", 1, 10000, 2000, 2000, r, c))
out += bytes(lab[i] for _, lab, i in sel)
nb = (d + 7) // 8
for img, _, i in sel:
    px = img[i * d:(i + 1) * d]
    packed = bytearray(nb)
    for k, p in enumerate(px):
        if p >= 128:
            packed[k >> 3] |= 1 << (k & 7)
    out += packed
with open(dst, "wb") as f:
    f.write(gzip.compress(bytes(out), compresslevel=9, mtime=0))
print(dst, len(out), "bytes before gzip")
