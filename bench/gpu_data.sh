#!/usr/bin/env bash
# Makes the small Fashion-MNIST copy that bench/gpu_torch_check.sh carries to the GPU machine
# (which has no internet and no Debian dataset package): <repo>/.gpu-data/fashion-mnist with
# Debian's t10k files as they are and the first N (default 12000) training images and labels,
# re-written as valid gzipped IDX files. About 9 MB, so that it fits the device tool's 64 MiB
# carry next to .gpu-deps (46 MB). The folder is git-ignored; carry it with ".gpu-data".
#
# Usage: bench/gpu_data.sh [N]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src=/usr/share/datasets/fashion-mnist
dst="${repo}/.gpu-data/fashion-mnist"
count="${1:-12000}"
[[ -f "${src}/train-images-idx3-ubyte.gz" ]] || {
  echo "gpu_data: no ${src} (apt-get install dataset-fashion-mnist)" >&2; exit 1; }
mkdir -p "${dst}"
cp "${src}"/t10k-*.gz "${dst}/"
/usr/bin/python3 - "${src}" "${dst}" "${count}" <<'PY'
import gzip, os, struct, sys
src, dst, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
    with gzip.open(os.path.join(src, name), "rb") as f:
        magic = f.read(4)
        dims = [struct.unpack(">I", f.read(4))[0] for _ in range(magic[3])]
        n = min(count, dims[0])
        record = 1
        for d in dims[1:]:
            record *= d
        body = f.read(n * record)
    dims[0] = n
    with gzip.open(os.path.join(dst, name), "wb") as f:
        f.write(magic + b"".join(struct.pack(">I", d) for d in dims) + body)
PY
du -sh "${dst}"
