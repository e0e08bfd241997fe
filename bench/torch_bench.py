#!/usr/bin/python3
"""The PyTorch CPU peer for `npm run bench`.

torchvision's MobileNetV2 (random weights, nothing downloaded) as a pooled 1280-d feature
extractor, the same computation the Node side runs: from tensors, and end to end from image files
with the usual DataLoader + PIL pipeline. With --mode=finetune: a fine-tune step with the last 3
blocks trainable, and a few epochs end to end from image folders (see finetune()). Also exports the model to ONNX so the Node side can load
it through tl's ONNX loader and check it against PyTorch's own output.

Prints one JSON line on stdout. Debian: apt-get install python3-torch python3-torchvision;
run with /usr/bin/python3.
"""
import argparse
import json
import os
import sys
import time


def timed(a, fn, min_runs=3):
    """Median seconds per run, as the Node side reports (robust to other processes' bursts)."""
    fn()  # warm-up
    t0 = time.perf_counter()
    each = []
    while True:
        t = time.perf_counter()
        fn()
        each.append(time.perf_counter() - t)
        s = time.perf_counter() - t0
        if (len(each) >= min_runs and s >= a.seconds) or s >= 60:
            each.sort()
            m = len(each) // 2
            return len(each), each[m] if len(each) % 2 else (each[m - 1] + each[m]) / 2


MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def files_dataset(a, torch, Image):
    """Image files (with optional labels) decoded by PIL, resized and normalised as torchvision does."""
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)

    class Files(torch.utils.data.Dataset):
        def __init__(self, files, labels=None):
            self.files = files
            self.labels = labels

        def __len__(self):
            return len(self.files)

        def __getitem__(self, i):
            img = Image.open(self.files[i]).convert("RGB").resize((a.size, a.size), Image.BILINEAR)
            t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(a.size, a.size, 3)
            x = (t.permute(2, 0, 1).float() / 255 - mean) / std
            return x if self.labels is None else (x, self.labels[i])

    return Files


def finetune(a, torch, torchvision, Image):
    """
    The fine-tune peer: torchvision's MobileNetV2 + Linear(1280, classes) on the pooled features,
    block_14 … block_16 (features[15:18]) and Conv_1 (features[18]) trainable with every BatchNorm
    frozen in eval mode (running statistics, no affine updates), Adam. One step from tensors; then
    an end-to-end run: image folders → DataLoader (PIL) → a.ft_epochs epochs.
    """
    nn = torch.nn
    net = torchvision.models.mobilenet_v2(weights=None)
    model = nn.Sequential(net.features, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, a.ft_classes))
    for p in model.parameters():
        p.requires_grad = False
    for block in list(net.features[15:]) + [model[3]]:
        for m in block.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                for p in m.parameters():
                    p.requires_grad = True
    model.eval()  # frozen BatchNorm: running statistics, as Keras runs frozen BN
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.arange(a.batch) % a.ft_classes
    n, median = timed(a, lambda: step(x, y))
    out = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "threads": torch.get_num_threads(),
        "trainable_tensors": len(params),
        "step_s": median,
        "steps": n,
    }
    if a.ft_dir:
        classes = sorted(d for d in os.listdir(a.ft_dir) if os.path.isdir(os.path.join(a.ft_dir, d)))
        files, labels = [], []
        for k, c in enumerate(classes):
            for f in sorted(os.listdir(os.path.join(a.ft_dir, c))):
                if f.endswith((".jpg", ".png")):
                    files.append(os.path.join(a.ft_dir, c, f))
                    labels.append(k)
        Files = files_dataset(a, torch, Image)
        t0 = time.perf_counter()
        loader = torch.utils.data.DataLoader(Files(files, labels), batch_size=a.batch, shuffle=True, num_workers=a.workers)
        total = a.ft_epochs * len(loader)
        done = 0
        for _ in range(a.ft_epochs):
            for xb, yb in loader:
                step(xb, yb)
                done += 1
                if a.ft_cap and time.perf_counter() - t0 > a.ft_cap and done < total:
                    break
            if done < a.ft_epochs * len(loader) and a.ft_cap and time.perf_counter() - t0 > a.ft_cap:
                break
        elapsed = time.perf_counter() - t0
        out["e2e_s"] = elapsed * total / done
        out["e2e_steps"] = done
        out["e2e_total_steps"] = total
        out["e2e_images"] = len(files)
        out["e2e_epochs"] = a.ft_epochs
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--export", default="")
    ap.add_argument("--mode", default="extract", choices=["extract", "finetune"])
    ap.add_argument("--ft-dir", default="", help="finetune: class folders of images for the end-to-end run")
    ap.add_argument("--ft-epochs", type=int, default=3)
    ap.add_argument("--ft-classes", type=int, default=10)
    ap.add_argument("--ft-cap", type=float, default=0, help="finetune: stop the end-to-end run after this many seconds and extrapolate")
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
    if a.mode == "finetune":
        print(json.dumps(finetune(a, torch, torchvision, Image)))
        return
    net = torchvision.models.mobilenet_v2(weights=None)
    model = torch.nn.Sequential(net.features, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()

    x = torch.randn(a.batch, 3, a.size, a.size)
    with torch.inference_mode():
        n, median = timed(a, lambda: model(x))
    out = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "threads": torch.get_num_threads(),
        "tensors_img_s": a.batch / median,
        "tensors_batches": n,
    }

    Files = files_dataset(a, torch, Image)
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
                feats = model((pixels.permute(0, 3, 1, 2) - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1))
            folder = os.path.dirname(a.export)
            pixels.numpy().astype("<f4").tofile(os.path.join(folder, "check_input.f32"))
            feats.numpy().astype("<f4").tofile(os.path.join(folder, "check_output.f32"))
            out["onnx"] = a.export
        except Exception as e:  # export is a bonus; the timings above stand
            print(f"ONNX export failed: {e}", file=sys.stderr)

    print(json.dumps(out))


if __name__ == "__main__":
    main()
