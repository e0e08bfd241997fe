#!/usr/bin/env bash
# The real-model figures (issue 12): a real pretrained Keras MobileNetV2 (nsfwjs' mobilenet_v2) transferred
# to crops of real photos from Debian packages. Needs `npm run build` and apt access; not part of npm test.
# SPLIT=anywhere (with a fresh WORK folder) takes validation crops from anywhere in the photos, not only from their right part.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${WORK:-/tmp/transfer-lab-real-model}
mkdir -p "$work/debs" "$work/root"
if [ ! -d "$work/photos" ]; then
  (cd "$work/debs" && apt-get download python3-skimage python3-sklearn)
  for d in "$work"/debs/*.deb; do dpkg -x "$d" "$work/root"; done
  node bench/real-model/crops.mjs "$work/root" "$work/photos" 30 12 "${SPLIT:-disjoint}"
fi
[ -f "$work/model/model.json" ] || node scripts/extract-nsfwjs.mjs "$work/model"
REAL_MODEL="$work/model" REAL_PHOTOS="$work/photos" node dist/cli.js run bench/real-model/real-model.ipynb --out "$work/real-model.out.ipynb" "$@"
echo "wrote $work/real-model.out.ipynb"
