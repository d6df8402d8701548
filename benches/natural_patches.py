#!/usr/bin/env python3
"""Whitened natural-image crops for `boltzmann crbm train --visible gaussian`.

Reads the two sample photographs that scikit-learn ships (china.jpg and
flower.jpg, CC BY 2.0, by danielbuechele and vultilion on Flickr; see
sklearn/datasets/images/README.txt), converts them to grey, whitens each
whole image with the filter of Olshausen & Field (1996), R(f) = f·exp(−(f/f0)⁴)
with f0 = 0.25 cycles/pixel by default (F0; Olshausen & Field's 200 cycles
per 512-pixel picture is ≈ 0.4), which flattens the 1/f spectrum of natural
images and damps the highest frequencies, scales it
to unit variance, and cuts N random S × S crops. Writes them as a float32
.npy of shape (N, S·S) — row-major crops, the layout `crbm train --image
SxSx1` reads. Nothing of the images is stored in the repository; they are
read from the installed scikit-learn (with Pillow) at run time.

    python3 benches/natural_patches.py OUT.npy [N] [S] [SEED]     (env F0)
"""
import os
import sys

import numpy as np
from sklearn.datasets import load_sample_images


F0 = float(os.environ.get("F0", "0.25"))


def whiten(img):
    """Olshausen & Field's whitening/low-pass filter, then unit variance."""
    h, w = img.shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    f = np.sqrt(fx ** 2 + fy ** 2)
    f0 = F0
    filt = f * np.exp(-((f / f0) ** 4))
    out = np.real(np.fft.ifft2(np.fft.fft2(img - img.mean()) * filt))
    return out / out.std()


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    s = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    rng = np.random.default_rng(seed)
    images = [whiten(im.astype(np.float64).mean(axis=2)) for im in load_sample_images().images]
    crops = np.empty((n, s * s), dtype=np.float32)
    for i in range(n):
        im = images[i % len(images)]
        y = rng.integers(0, im.shape[0] - s + 1)
        x = rng.integers(0, im.shape[1] - s + 1)
        crops[i] = im[y:y + s, x:x + s].reshape(-1)
    np.save(out, crops)
    print(f"wrote {out}: {n} whitened {s}x{s} crops from {len(images)} images")


if __name__ == "__main__":
    main()
