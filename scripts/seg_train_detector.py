#!/usr/bin/env python3
"""Trains the tiny cell detectors shipped as a pair: resources/models/detector-cells.onnx (primary: GPU round 1
model b128 of scripts/gpu_train_detector.sh, crop 128, exported with --init b128.pt --iters 0) and
resources/models/detector-cells-recall.onnx (companion: the CPU defaults below). scripts/train_detector_rescore.ts
then fits the rescorer that joins them (resources/models/detector-cells.json).

    node bin/run-ts.mjs scripts/seg_prepare_detector_data.ts      # writes .cache/seg-train
    /usr/bin/python3 scripts/seg_train_detector.py [--train-split odd|all] [--threads 3]
    (the companion model: defaults, 2400 steps of 12 crops, about 25 min on 2 shared CPU cores; made with this
    script as of commit e9b46ef, before the sample pool was seeded per sample, so a re-run now gives a close, not
    bit-identical, net)
    scripts/gpu_train_detector.sh                                 # variants side by side on a CUDA GPU

CenterNet-style: for fields resized so that a typical RBC is 24 px across, the network predicts at stride 4 a
centre heatmap per class (WBC, RBC, platelet), the box size (log of w/24, h/24) and the sub-cell centre
offset. Trained on DEV data only (txl-dev), on one half of each source by default ('odd' by file-name hash, the
split bench/detect.ts --split even evaluates on), so the reported held-out figures are honest.
Needs only python3-torch (1.13, CPU) and numpy.
"""
import argparse
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CELL = 24.0
STRIDE = 4
CROP = 80


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument('--data', default='.cache/seg-train')
    p.add_argument('--iters', type=int, default=2400)
    p.add_argument('--batch', type=int, default=12)
    p.add_argument('--lr', type=float, default=3e-3)
    p.add_argument('--train-split', default='odd', choices=['odd', 'even', 'all'])
    p.add_argument('--out', default='resources/models/detector-cells.onnx')
    p.add_argument('--seed', type=int, default=7)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--eval-every', type=int, default=600)
    p.add_argument('--pool', type=int, default=3000)
    p.add_argument('--crop', type=int, default=80, help='training crop size in px (multiple of 8)')
    p.add_argument('--device', default='cpu', help="'cpu' or 'cuda' (a GPU trains the same model much longer)")
    p.add_argument('--workers', type=int, default=1, help='processes that synthesize the sample pool')
    p.add_argument('--width', type=float, default=1.0, help='channel multiplier (1 = the shipped 175k-parameter net)')
    p.add_argument('--time-limit', type=float, default=0, help='seconds: stop (schedule finished) when reached')
    p.add_argument('--init', default=None, help='start from this state dict (with --iters 0: export only)')
    p.add_argument('--state-out', default=None, help='where to save the state dict (default: DATA/detector-state.pt)')
    return p.parse_args()


def conv_bn(cin, cout, stride=1, dilation=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class Residual(nn.Module):
    def __init__(self, ch, dilation=1):
        super().__init__()
        self.a = conv_bn(ch, ch, dilation=dilation)
        self.b = nn.Sequential(
            nn.Conv2d(ch, ch, 3, 1, padding=dilation, dilation=dilation, bias=False), nn.BatchNorm2d(ch)
        )

    def forward(self, x):
        return F.relu(x + self.b(self.a(x)))


class CellNet(nn.Module):
    """Input: N x 3 x H x W RGB in [0, 1], H and W multiples of 8. Outputs at H/4 x W/4."""

    def __init__(self, width=1.0):
        super().__init__()
        a, b, c = (int(round(n * width / 8)) * 8 for n in (16, 32, 48))
        self.stem = nn.Sequential(conv_bn(3, a, 2), conv_bn(a, b, 2))
        self.s4 = Residual(b)
        self.down = conv_bn(b, c, 2)
        self.s8 = nn.Sequential(Residual(c), Residual(c, dilation=2), Residual(c, dilation=4))
        self.fuse = nn.Sequential(
            nn.Conv2d(b + c, b, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True), conv_bn(b, b)
        )
        self.heat = nn.Conv2d(b, 3, 1)
        self.size = nn.Conv2d(b, 2, 1)
        self.offset = nn.Conv2d(b, 2, 1)
        nn.init.constant_(self.heat.bias, -2.19)

    def forward(self, x):
        x = (x - 0.5) / 0.25
        f4 = self.s4(self.stem(x))
        f8 = self.s8(self.down(f4))
        up = F.interpolate(f8, scale_factor=2.0, mode='bilinear', align_corners=False)
        f = self.fuse(torch.cat([f4, up], 1))
        return torch.sigmoid(self.heat(f)), self.size(f), self.offset(f)


def load(data_dir):
    index = json.load(open(os.path.join(data_dir, 'index.json')))
    raw = np.fromfile(os.path.join(data_dir, 'images.u8'), dtype=np.uint8)
    images = []
    for e in index:
        n = e['width'] * e['height'] * 3
        img = raw[e['offset']:e['offset'] + n].reshape(e['height'], e['width'], 3)
        images.append(torch.from_numpy(img.copy()).permute(2, 0, 1).float() / 255.0)
    return index, images


def make_sample(img, boxes, rng, CROP=80):
    """Random scale, colour, flip/rotation and crop; returns input crop and stride-4 targets."""
    _, h, w = img.shape
    if rng.random() < 0.5:
        s = math.exp(rng.uniform(math.log(0.55), math.log(1.8)))
    else:
        s = math.exp(rng.uniform(math.log(0.85), math.log(1.18)))
    nh, nw = max(8, int(round(h * s))), max(8, int(round(w * s)))
    sx, sy = nw / w, nh / h
    x = F.interpolate(img[None], size=(nh, nw), mode='bilinear', align_corners=False)[0]
    bx = [(c, bx0 * sx, by0 * sy, bw * sx, bh * sy) for c, bx0, by0, bw, bh in boxes]
    # Pad with the image's own bright background so crops of small images keep their statistics.
    bg = x.flatten(1).quantile(0.9, dim=1)
    ph, pw = max(0, CROP - nh), max(0, CROP - nw)
    if ph or pw:
        canvas = bg[:, None, None].expand(3, nh + ph, nw + pw).clone()
        oy, ox = rng.randint(0, ph), rng.randint(0, pw)
        canvas[:, oy:oy + nh, ox:ox + nw] = x
        x = canvas
        bx = [(c, a + ox, b + oy, cw, ch) for c, a, b, cw, ch in bx]
    _, H, W = x.shape
    y0, x0 = rng.randint(0, H - CROP), rng.randint(0, W - CROP)
    x = x[:, y0:y0 + CROP, x0:x0 + CROP]
    bx = [(c, a - x0, b - y0, cw, ch) for c, a, b, cw, ch in bx]
    # Colour: per-channel gain and gamma, global brightness; stains and cameras differ between sites.
    gain = torch.tensor([rng.uniform(0.85, 1.15) for _ in range(3)])[:, None, None]
    gamma = rng.uniform(0.75, 1.35)
    x = (x.clamp(0, 1) ** gamma * gain * rng.uniform(0.9, 1.1)).clamp(0, 1)
    if rng.random() < 0.3:
        x = F.avg_pool2d(x[None], 3, 1, 1, count_include_pad=False)[0]
    if rng.random() < 0.5:
        x = x.flip(2)
        bx = [(c, CROP - a - cw, b, cw, ch) for c, a, b, cw, ch in bx]
    if rng.random() < 0.5:
        x = x.flip(1)
        bx = [(c, a, CROP - b - ch, cw, ch) for c, a, b, cw, ch in bx]
    if rng.random() < 0.5:
        x = x.transpose(1, 2)
        bx = [(c, b, a, ch, cw) for c, a, b, cw, ch in bx]
    o = CROP // STRIDE
    heat = torch.zeros(3, o, o)
    size = torch.zeros(2, o, o)
    off = torch.zeros(2, o, o)
    weight = torch.zeros(1, o, o)
    ys = torch.arange(o).float()[:, None]
    xs = torch.arange(o).float()[None, :]
    for c, a, b, cw, ch in bx:
        cx, cy = (a + cw / 2) / STRIDE, (b + ch / 2) / STRIDE
        if not (0 <= cx < o and 0 <= cy < o) or cw < 2 or ch < 2:
            continue
        sigma = max(0.6, math.sqrt(cw * ch) / STRIDE / 6)
        g = torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma * sigma))
        ci = int(c)
        heat[ci] = torch.maximum(heat[ci], g)
        ix, iy = int(cx), int(cy)
        size[0, iy, ix] = math.log(cw / CELL)
        size[1, iy, ix] = math.log(ch / CELL)
        off[0, iy, ix] = cx - ix
        off[1, iy, ix] = cy - iy
        weight[0, iy, ix] = 1
        heat[ci, iy, ix] = 1.0
    return x, heat, size, off, weight


def reorient(x, heat, size, off, weight, rng):
    """Batch-wide flips and transpose; centre offsets mirror (1 - offset) where the cell's centre pixel moves."""
    if rng.random() < 0.5:
        x, heat, size, weight = x.flip(3), heat.flip(3), size.flip(3), weight.flip(3)
        off = off.flip(3)
        off = torch.cat([(1 - off[:, :1]) * weight, off[:, 1:]], 1)
    if rng.random() < 0.5:
        x, heat, size, weight = x.flip(2), heat.flip(2), size.flip(2), weight.flip(2)
        off = off.flip(2)
        off = torch.cat([off[:, :1], (1 - off[:, 1:]) * weight], 1)
    if rng.random() < 0.5:
        x, heat, size, off, weight = (t.transpose(2, 3) for t in (x, heat, size, off, weight))
        size = size.flip(1)
        off = off.flip(1)
    return x, heat, size, off, weight


def focal_loss(pred, gt):
    pred = pred.clamp(1e-4, 1 - 1e-4)
    pos = gt.eq(1).float()
    neg = 1 - pos
    pos_loss = torch.log(pred) * (1 - pred) ** 2 * pos
    neg_loss = torch.log(1 - pred) * pred ** 2 * (1 - gt) ** 4 * neg
    n = pos.sum().clamp(min=1)
    return -(pos_loss.sum() + neg_loss.sum()) / n


def decode(heat, size, off, threshold=0.3):
    """Peaks of the RBC/WBC/platelet heatmaps -> (class, x, y, w, h, score) in input px."""
    peaks = heat == F.max_pool2d(heat, 3, 1, 1)
    out = []
    for c, iy, ix in zip(*torch.nonzero(peaks[0] & (heat[0] > threshold), as_tuple=True)):
        cx = (ix.item() + off[0, 0, iy, ix].item()) * STRIDE
        cy = (iy.item() + off[0, 1, iy, ix].item()) * STRIDE
        w = math.exp(size[0, 0, iy, ix].item()) * CELL
        h = math.exp(size[0, 1, iy, ix].item()) * CELL
        out.append((c.item(), cx - w / 2, cy - h / 2, w, h, heat[0, c, iy, ix].item()))
    return out


def iou(a, b):
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def evaluate(model, index, images, split):
    """RBC F1 at IoU 0.5 per source, at the annotation-derived scale (the bench measures the full pipeline)."""
    model.eval()
    counts = {}
    with torch.no_grad():
        for e, img in zip(index, images):
            if split != 'all' and e['split'] != split:
                continue
            _, h, w = img.shape
            H, W = (h + 7) // 8 * 8, (w + 7) // 8 * 8
            dev = next(model.parameters()).device
            x = F.pad(img[None], (0, W - w, 0, H - h), mode='replicate').to(dev)
            heat, size, off = (t.cpu() for t in model(x))
            pred = [d[1:5] for d in decode(heat, size, off) if d[0] == 1]
            truth = [b[1:] for b in e['boxes'] if b[0] == 1]
            pairs = sorted(
                ((iou(p, t), i, j) for i, p in enumerate(pred) for j, t in enumerate(truth)), reverse=True
            )
            used_p, used_t, tp = set(), set(), 0
            for v, i, j in pairs:
                if v < 0.5:
                    break
                if i in used_p or j in used_t:
                    continue
                used_p.add(i)
                used_t.add(j)
                tp += 1
            c = counts.setdefault(e['source'], [0, 0, 0])
            c[0] += tp
            c[1] += len(pred) - tp
            c[2] += len(truth) - tp
    model.train()
    result = {}
    for s, (tp, fp, fn) in sorted(counts.items()):
        p = tp / max(1, tp + fp)
        r = tp / max(1, tp + fn)
        result[s] = {'precision': round(p, 4), 'recall': round(r, 4), 'f1': round(2 * p * r / max(1e-9, p + r), 4)}
    return result


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    index, images = load(args.data)
    train = [i for i, e in enumerate(index) if args.train_split == 'all' or e['split'] == args.train_split]
    held_out = 'even' if args.train_split == 'odd' else 'odd' if args.train_split == 'even' else 'all'
    # Sources differ in size (46 BCCD vs 103 PBC images): sample sources evenly, then an image within.
    by_source = {}
    for i in train:
        by_source.setdefault(index[i]['source'], []).append(i)
    sources = sorted(by_source)
    print(f'train images {len(train)} by source', {s: len(v) for s, v in by_source.items()}, flush=True)
    model = CellNet(args.width)
    print('parameters', sum(p.numel() for p in model.parameters()), flush=True)
    # Augmented samples are drawn into a pool once: on a shared 2-core CPU, per-step sample synthesis in Python
    # cost as much as the training step. Each step re-flips and re-transposes its batch, so pool samples recur
    # in eight orientations.
    device = torch.device(args.device)
    if args.init:
        model.load_state_dict(torch.load(args.init, map_location='cpu'))
    model.to(device)
    if args.iters == 0:
        export(model, args)
        return
    t0 = time.time()
    picks = []
    for k in range(args.pool):
        picks.append((rng.choice(by_source[rng.choice(sources)]), args.seed * 1000003 + k))
    global _POOL_DATA
    _POOL_DATA = (index, images, args.crop)
    if args.workers > 1:
        import multiprocessing as mp

        with mp.get_context('fork').Pool(args.workers) as workers:
            pool = workers.map(_pool_sample, picks, chunksize=64)
    else:
        pool = [_pool_sample(p) for p in picks]
    # The pool lives on the training device as five stacked tensors; batches are index gathers.
    pool = [torch.from_numpy(np.stack(t)).to(device) for t in zip(*pool)]
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)

    def set_lr(progress):
        # One cycle: linear warm-up over the first 10%, cosine decay to lr/2.5e5 after (as OneCycleLR), driven by the
        # fraction of iterations done or, with --time-limit, of the time budget spent, whichever is ahead.
        if progress < 0.1:
            lr = args.lr / 25 + (args.lr - args.lr / 25) * progress / 0.1
        else:
            q = (progress - 0.1) / 0.9
            lr = args.lr / 25e4 + (args.lr - args.lr / 25e4) * 0.5 * (1 + math.cos(math.pi * min(1.0, q)))
        for g in opt.param_groups:
            g['lr'] = lr

    print(f'pool of {args.pool} samples ({args.crop} px) in {time.time() - t0:.0f}s on {device}', flush=True)
    t0 = time.time()
    it = 0
    while True:
        it += 1
        progress = (it - 1) / args.iters
        if args.time_limit:
            progress = max(progress, (time.time() - t0) / args.time_limit)
        if progress >= 1:
            it -= 1
            break
        set_lr(progress)
        idx = torch.tensor(rng.sample(range(args.pool), args.batch), device=device)
        x, heat, size, off, weight = (t[idx] for t in pool)
        x, heat, size, off, weight = reorient(x, heat, size, off, weight, rng)
        p_heat, p_size, p_off = model(x)
        n = weight.sum().clamp(min=1)
        loss = (
            focal_loss(p_heat, heat)
            + 1.0 * (F.l1_loss(p_size, size, reduction='none') * weight).sum() / n
            + 1.0 * (F.l1_loss(p_off, off, reduction='none') * weight).sum() / n
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 500 == 0:
            print(f'it {it} loss {loss.item():.3f} {time.time() - t0:.0f}s', flush=True)
        if it % args.eval_every == 0:
            print('held-out', held_out, json.dumps(evaluate(model, index, images, held_out)), flush=True)
            export(model, args)
    print(f'done: {it} iterations in {time.time() - t0:.0f}s', flush=True)
    print('held-out', held_out, json.dumps(evaluate(model, index, images, held_out)), flush=True)
    export(model, args)


_POOL_DATA = None


def _pool_sample(pick):
    i, seed = pick
    index, images, crop = _POOL_DATA
    torch.set_num_threads(1)
    # numpy crosses the process boundary as plain bytes (torch tensors would travel as shared-memory handles)
    sample = make_sample(images[i], [tuple(b) for b in index[i]['boxes']], random.Random(seed), crop)
    return tuple(t.numpy() for t in sample)


def export(model, args):
    was_training = model.training
    model.eval()
    os.makedirs(os.path.dirname(args.out) or '.', exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(state, args.state_out or os.path.join(args.data, 'detector-state.pt'))
    cpu_model = CellNet(args.width)
    cpu_model.load_state_dict(state)
    cpu_model.eval()
    dummy = torch.rand(1, 3, 128, 160)
    extra = {'dynamo': False} if int(torch.__version__.split('.')[0]) >= 2 else {}
    torch.onnx.export(
        cpu_model,
        dummy,
        args.out,
        input_names=['image'],
        output_names=['heatmap', 'size', 'offset'],
        dynamic_axes={
            'image': {0: 'n', 2: 'h', 3: 'w'},
            'heatmap': {0: 'n', 2: 'h4', 3: 'w4'},
            'size': {0: 'n', 2: 'h4', 3: 'w4'},
            'offset': {0: 'n', 2: 'h4', 3: 'w4'},
        },
        opset_version=13,
        **extra,
    )
    print('wrote', args.out, os.path.getsize(args.out), 'bytes', flush=True)
    if was_training:
        model.train()


if __name__ == '__main__':
    main()
