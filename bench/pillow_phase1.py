#!/usr/bin/env python3
"""Pillow's side of bench/phase1-vs-pillow.ts: decode + resize + horizontal flip, one thread.

    /usr/bin/python3 bench/pillow_phase1.py LIST_JSON HEIGHT WIDTH MODE [PASSES]

LIST_JSON holds the image paths (a JSON array, repeats allowed); MODE is 'L' or 'RGB'. Each image
is opened from disk, drafted to the target size (JPEG only: libjpeg decodes at 1/2, 1/4 or 1/8
scale, as sharp's shrink-on-load does on the other side; PILLOW_DRAFT=0 turns it off), converted
to MODE, resized with BILINEAR, flipped left-right and read out
as bytes, on this one thread: Pillow does not spread this work over cores by itself. The list is
processed PASSES times (default 1), each pass timed. Prints one JSON line: images (per pass),
passes (seconds and CPU seconds of each: the loop only, not interpreter start or imports), peak RSS of this
process in KiB (VmHWM from /proc/self/status: getrusage's ru_maxrss survives exec on Linux, so
it would report the parent's peak), the Pillow version and a checksum of the pixels.
"""
import json
import os
import resource
import sys
import time

from PIL import Image, __version__ as PIL_VERSION

BILINEAR = Image.Resampling.BILINEAR if hasattr(Image, "Resampling") else Image.BILINEAR
FLIP_LEFT_RIGHT = Image.Transpose.FLIP_LEFT_RIGHT if hasattr(Image, "Transpose") else Image.FLIP_LEFT_RIGHT


def main() -> None:
    if len(sys.argv) not in (5, 6):
        sys.exit("usage: pillow_phase1.py LIST_JSON HEIGHT WIDTH MODE [PASSES]")
    list_file, height, width, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    passes = int(sys.argv[5]) if len(sys.argv) == 6 else 1
    draft = os.environ.get("PILLOW_DRAFT", "1") != "0"
    if mode not in ("L", "RGB"):
        sys.exit(f"MODE must be L or RGB, got {mode!r}")
    with open(list_file, encoding="utf-8") as f:
        paths = json.load(f)
    checksum = 0
    timings = []
    for _ in range(passes):
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        for path in paths:
            with Image.open(path) as im:
                if draft:
                    # JPEG DCT-domain downscaling (a no-op for other formats): the shrink-on-load
                    # sharp applies on our side, the same factor for the same sizes.
                    im.draft(im.mode, (width, height))
                out = im.convert(mode).resize((width, height), BILINEAR).transpose(FLIP_LEFT_RIGHT)
                data = out.tobytes()
            if len(data) != width * height * len(mode):
                sys.exit(f"{path}: got {len(data)} bytes, expected {width * height * len(mode)}")
            checksum = (checksum + data[len(data) // 2]) & 0xFFFFFFFF
        seconds = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        cpu_seconds = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        timings.append({"seconds": seconds, "cpuSeconds": cpu_seconds})
    print(json.dumps({"images": len(paths), "passes": timings, "maxRssKiB": peak_rss_kib(), "pillow": PIL_VERSION, "checksum": checksum}))


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM), in KiB; getrusage's as a fallback."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    main()
