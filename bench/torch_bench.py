#!/usr/bin/python3
"""The PyTorch CPU peer for `npm run bench`.

torchvision's MobileNetV2 (random weights, nothing downloaded) as a pooled 1280-d feature
extractor, the same computation the Node side runs: from tensors, and end to end from image files
with the usual DataLoader + PIL pipeline. Also exports the model to ONNX so the Node side can load
it through tl's ONNX loader and check it against PyTorch's own output.

Prints one JSON line on stdout. Debian: apt-get install python3-torch python3-torchvision;
run with /usr/bin/python3.
"""
import argparse
import json
import os
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--export", default="")
    a = ap.parse_args()

    try:
        import torch
        import torchvision
        from PIL import Image
    except Exception as e:  # the bench reports this instead of failing
        print(json.dumps({"error": f"PyTorch not available: {e} (apt-get install python3-torch python3-torchvision)"}))
        return

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = torchvision.models.mobilenet_v2(weights=None)
    model = torch.nn.Sequential(net.features, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()

    def timed(fn, min_runs=3):
        """Median seconds per run, as the Node side reports (robust to other processes' bursts)."""
        fn()  # warm-up
        t0 = time.perf_counter()
        each = []
        while True:
            t = time.perf_counter()
            fn()
            each.append(time.perf_counter() - t)
            s = time.perf_counter() - t0
            if (len(each) >= min_runs and s >= a.seconds) or s >= 30:
                each.sort()
                m = len(each) // 2
                return len(each), each[m] if len(each) % 2 else (each[m - 1] + each[m]) / 2

    x = torch.randn(a.batch, 3, a.size, a.size)
    with torch.inference_mode():
        n, median = timed(lambda: model(x))
    out = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "threads": torch.get_num_threads(),
        "tensors_img_s": a.batch / median,
        "tensors_batches": n,
    }

    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)

    class Files(torch.utils.data.Dataset):
        def __init__(self, files):
            self.files = files

        def __len__(self):
            return len(self.files)

        def __getitem__(self, i):
            img = Image.open(self.files[i]).convert("RGB").resize((a.size, a.size), Image.BILINEAR)
            t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(a.size, a.size, 3)
            return (t.permute(2, 0, 1).float() / 255 - mean) / std

    files = sorted(os.path.join(a.images, f) for f in os.listdir(a.images) if f.endswith((".jpg", ".png")))
    if files:
        best = 0.0
        for _ in range(2):  # the faster of two passes, as on the Node side
            t0 = time.perf_counter()
            loader = torch.utils.data.DataLoader(Files(files), batch_size=a.batch, num_workers=a.workers)
            count = 0
            with torch.inference_mode():
                for xb in loader:
                    model(xb)
                    count += xb.shape[0]
            best = max(best, count / (time.perf_counter() - t0))
        out["files_img_s"] = best
        out["files_workers"] = a.workers

    if a.export:
        try:
            torch.onnx.export(
                model,
                torch.randn(1, 3, a.size, a.size),
                a.export,
                input_names=["pixel_values"],
                output_names=["features"],
                dynamic_axes={"pixel_values": {0: "batch"}, "features": {0: "batch"}},
                opset_version=13,
            )
            # A reference pair for the Node side: NHWC pixels in [0, 1] and PyTorch's features for them.
            g = torch.Generator().manual_seed(1)
            pixels = torch.rand(2, a.size, a.size, 3, generator=g)
            with torch.inference_mode():
                feats = model((pixels.permute(0, 3, 1, 2) - mean) / std)
            folder = os.path.dirname(a.export)
            pixels.numpy().astype("<f4").tofile(os.path.join(folder, "check_input.f32"))
            feats.numpy().astype("<f4").tofile(os.path.join(folder, "check_output.f32"))
            out["onnx"] = a.export
        except Exception as e:  # export is a bonus; the timings above stand
            print(f"ONNX export failed: {e}", file=sys.stderr)

    print(json.dumps(out))


if __name__ == "__main__":
    main()
