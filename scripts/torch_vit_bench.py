#!/usr/bin/python3
"""PyTorch eager reference for bench/vit-cpu.ts: loads a timm-format DINOv2 checkpoint (model.safetensors +
config.json) into the plain-torch timm ViT of make_vit_fixture.py, embeds the given inputs, and times
batched inference. Prints one JSON object.

  /usr/bin/python3 scripts/torch_vit_bench.py MODEL_DIR INPUTS.npy OUT.npy --batch 8 --threads 2 --seconds 20
"""
import argparse
import json
import os
import resource
import struct
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vit_fixture import DinoV2ViT  # noqa: E402

SIZES = {'small': (384, 12, 6), 'base': (768, 12, 12), 'large': (1024, 24, 16)}


def read_safetensors(path):
    with open(path, 'rb') as f:
        (n,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        assert e['dtype'] == 'F32', 'this reference script reads F32 checkpoints only'
        b, end = e['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[b:end], dtype='<f4').reshape(e['shape']).copy())
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument('model_dir')
    p.add_argument('inputs')
    p.add_argument('out')
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--seconds', type=float, default=20)
    p.add_argument('--no-embed', action='store_true', help='time only; do not write embeddings of all inputs')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = json.load(open(os.path.join(args.model_dir, 'config.json')))
    state = read_safetensors(os.path.join(args.model_dir, 'model.safetensors'))
    dims, depth, heads = SIZES[cfg['architecture'].split('_')[1]]
    hidden = state['blocks.0.mlp.fc2.weight'].shape[1]
    regs = state['reg_token'].shape[1] if 'reg_token' in state else 0
    model = DinoV2ViT(dims, depth, heads, hidden, reg_tokens=regs,
                      no_embed_class=state['pos_embed'].shape[1] == 256).eval()
    model.load_state_dict(state)
    x = torch.from_numpy(np.load(args.inputs)).reshape(-1, 3, 224, 224)
    with torch.inference_mode():
        if not args.no_embed:
            emb = torch.cat([model(x[i:i + args.batch]) for i in range(0, x.shape[0], args.batch)])
            np.save(args.out, emb.numpy().astype('<f4'))
        batch = x[:args.batch]
        for _ in range(2):
            model(batch)
        runs = 0
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < args.seconds or runs < 3:
            model(batch)
            runs += 1
        dt = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu_s = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(json.dumps({
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'batch': args.batch,
        'runs': runs,
        'images_per_s': runs * args.batch / dt,
        'images_per_cpu_s': runs * args.batch / cpu_s,
        'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        'blas_libraries': sorted({line.split()[-1] for line in open('/proc/self/maps') if 'blas' in line}),
    }))


if __name__ == '__main__':
    main()
