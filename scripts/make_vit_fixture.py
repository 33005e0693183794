#!/usr/bin/python3
"""Random-weight DINOv2 ViTs in timm's exact checkpoint format, plus torch reference outputs.

timm is not installed here, so the timm DINOv2 ViT (vision_transformer.py: PatchEmbed, LayerScale,
Attention with qkv bias, Mlp with exact-erf GELU or SwiGLUPacked, LayerNorm eps 1e-6, CLS after the final
norm) is written out in plain torch with timm's parameter names. safetensors is written by hand: the
python package is not installed.

  /usr/bin/python3 scripts/make_vit_fixture.py fixture          -> test/fixtures/vit-tiny/
  /usr/bin/python3 scripts/make_vit_fixture.py vit-s OUT_DIR    -> full-size ViT-S/14 (benchmark, not committed)

The crop geometry below mirrors src/main/engine/embed/vit/preprocess.ts; the resize is PIL's own
Image.resize(BILINEAR) (what torchvision's Resize does on PIL images), so the app's TypeScript resampler
is tested against the real thing.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(ROOT), 'shared', 'data')
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact erf GELU, as nn.GELU()


class SwiGLUPacked(nn.Module):
    """timm GluMlp(act_layer=nn.SiLU, gate_last=False): fc1 packs [gate, value] along the output axis."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden // 2, dim)

    def forward(self, x):
        x1, x2 = self.fc1(x).chunk(2, dim=-1)
        return self.fc2(F.silu(x1) * x2)


class LayerScale(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class Block(nn.Module):
    def __init__(self, dim, num_heads, hidden, swiglu):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = SwiGLUPacked(dim, hidden) if swiglu else Mlp(dim, hidden)
        self.ls2 = LayerScale(dim)

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class DinoV2ViT(nn.Module):
    def __init__(self, dim, depth, num_heads, hidden, img_size=224, patch=14, reg_tokens=0,
                 no_embed_class=False, swiglu=False):
        super().__init__()
        grid = img_size // patch
        self.no_embed_class = no_embed_class
        self.patch_embed = PatchEmbed(dim, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.reg_token = nn.Parameter(torch.zeros(1, reg_tokens, dim)) if reg_tokens else None
        prefix = 0 if no_embed_class else 1 + reg_tokens
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + prefix, dim))
        self.blocks = nn.Sequential(*[Block(dim, num_heads, hidden, swiglu) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        x = self.patch_embed(x)
        to_cat = [self.cls_token.expand(x.shape[0], -1, -1)]
        if self.reg_token is not None:
            to_cat.append(self.reg_token.expand(x.shape[0], -1, -1))
        if self.no_embed_class:
            x = torch.cat(to_cat + [x + self.pos_embed], dim=1)
        else:
            x = torch.cat(to_cat + [x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return x[:, 0]


def randomize(model, seed, std=0.05):
    """Random weights with non-trivial LayerNorm affines, LayerScale gammas and biases, so that every
    folding the app does (scale into q, gammas into proj/fc2, conv bias into pos_embed) is exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('gamma'):
                p.copy_(torch.rand(p.shape, generator=g) * 0.9 + 0.1)
            elif 'norm' in name and name.endswith('weight'):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith('bias'):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif name in ('cls_token', 'reg_token', 'pos_embed'):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))
            # The checkpoint stores float32: the reference must use exactly those values.
            p.copy_(p.float().to(p.dtype))


def write_safetensors(path, state, dtype='F32'):
    header = {'__metadata__': {'format': 'pt'}}
    blobs = []
    offset = 0
    for name, t in state.items():
        t = t.detach().contiguous().cpu()
        if dtype == 'F32':
            b = t.to(torch.float32).numpy().astype('<f4').tobytes()
        elif dtype == 'F16':
            b = t.to(torch.float16).numpy().astype('<f2').tobytes()
        elif dtype == 'BF16':
            b = t.to(torch.bfloat16).view(torch.int16).numpy().astype('<i2').tobytes()
        else:
            raise ValueError(dtype)
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(',', ':')).encode('utf8')
    h += b' ' * ((8 - len(h) % 8) % 8)  # the reference writer pads so tensor data stays 8-byte aligned
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_timm_folder(out_dir, model, arch, model_args, dims, img_size=224, dtype='F32'):
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, 'model.safetensors'), model.state_dict(), dtype)
    # Same layout as the config.json timm pushes to the Hugging Face hub (push_to_hf_hub).
    config = {
        'architecture': arch,
        'num_classes': 0,
        'num_features': dims,
        'global_pool': 'token',
        'model_args': model_args,
        'pretrained_cfg': {
            'tag': 'random',
            'custom_load': False,
            'input_size': [3, img_size, img_size],
            'fixed_input_size': True,
            'interpolation': 'bicubic',
            'crop_pct': 1.0,
            'crop_mode': 'center',
            'mean': list(MEAN),
            'std': list(STD),
            'num_classes': 0,
            'pool_size': None,
            'first_conv': 'patch_embed.proj',
            'classifier': 'head',
        },
    }
    with open(os.path.join(out_dir, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)


def write_npy(path, array):
    np.save(path, np.ascontiguousarray(array, dtype='<f4'))


# ---- preprocessing reference (mirrors preprocess.ts) ----

def round_half_up(v):
    return int(math.floor(v + 0.5))


def crop_square(rgb, bbox, context_factor):
    """Square crop of side max(w, h) * factor around the bbox centre; outside the image the canvas is the
    image's mean colour."""
    h_img, w_img, _ = rgb.shape
    x, y, w, h = bbox
    side = max(1, round_half_up(max(w, h) * context_factor))
    x0 = round_half_up(x + w / 2 - side / 2)
    y0 = round_half_up(y + h / 2 - side / 2)
    sums = rgb.reshape(-1, 3).astype(np.float64).sum(axis=0)
    fill = [round_half_up(s / (w_img * h_img)) for s in sums]
    canvas = np.empty((side, side, 3), dtype=np.uint8)
    canvas[:, :] = fill
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + side, w_img), min(y0 + side, h_img)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    return canvas


def to_input(resized_uint8):
    x = torch.from_numpy(resized_uint8.astype(np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(MEAN, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(3, 1, 1)
    return (x - mean) / std


# Real crops: up-sampling (small crops), down-sampling (box side > 224), a box over the image edge
# (padding), a crop already at 224 (normalisation only) and a non-square whole image.
CROPS = [
    {'source': 'fixture/mpidb_pf_crops/ring/1305121398-0003-R0.png', 'bbox': None, 'contextFactor': 1.0},
    {'source': 'fixture/nih_cells/parasitized/C39P4thinF_original_IMG_20150622_105102_cell_104.png',
     'bbox': [20, 18, 90, 95], 'contextFactor': 1.25},
    {'source': 'fixture/chula_fields/2.jpg', 'bbox': [0, 200, 210, 230], 'contextFactor': 1.25},
    {'source': 'fixture/chula_fields/2.jpg', 'bbox': [40, 40, 224, 224], 'contextFactor': 1.0},
    {'source': 'fixture/chula_fields/2.jpg', 'bbox': [300, 100, 61, 47], 'contextFactor': 1.5},
]


def make_crops(out_dir):
    inputs = []
    records = []
    for i, c in enumerate(CROPS):
        img = Image.open(os.path.join(SHARED_DATA, c['source'])).convert('RGB')
        rgb = np.asarray(img)
        bbox = c['bbox'] or [0, 0, rgb.shape[1], rgb.shape[0]]
        crop = crop_square(rgb, bbox, c['contextFactor'])
        resized = crop if crop.shape[0] == 224 else np.asarray(
            Image.fromarray(crop).resize((224, 224), Image.BILINEAR))
        name = f'crop-{i}.png'
        Image.fromarray(resized).save(os.path.join(out_dir, name))
        records.append({'source': c['source'], 'bbox': bbox, 'contextFactor': c['contextFactor'],
                        'cropSide': int(crop.shape[0]), 'resized': name})
        inputs.append(to_input(resized))
    with open(os.path.join(out_dir, 'crops.json'), 'w') as f:
        json.dump({'inputSize': 224, 'mean': list(MEAN), 'std': list(STD), 'crops': records}, f, indent=2)
    return torch.stack(inputs)


VARIANTS = {
    # name: (arch, model_args, DinoV2ViT kwargs, seed)
    'plain': ('vit_small_patch14_dinov2', {'img_size': 224, 'embed_dim': 48, 'depth': 2, 'num_heads': 3},
              {'reg_tokens': 0, 'no_embed_class': False, 'swiglu': False, 'hidden': 192}, 1),
    'reg4': ('vit_small_patch14_reg4_dinov2', {'img_size': 224, 'embed_dim': 48, 'depth': 2, 'num_heads': 3},
             {'reg_tokens': 4, 'no_embed_class': True, 'swiglu': False, 'hidden': 192}, 2),
    'swiglu': ('vit_giant_patch14_dinov2', {'img_size': 224, 'embed_dim': 48, 'depth': 2, 'num_heads': 3},
               {'reg_tokens': 0, 'no_embed_class': False, 'swiglu': True, 'hidden': 128}, 3),
}


def synthetic_pixels(n, size):
    """Same formula as syntheticPixelBatch in session.ts."""
    b = np.arange(n).reshape(n, 1, 1, 1)
    c = np.arange(3).reshape(1, 3, 1, 1)
    y = np.arange(size).reshape(1, 1, size, 1)
    x = np.arange(size).reshape(1, 1, 1, size)
    v = 1.5 * np.sin((x + 1) * (0.05 + 0.01 * c) + (y + 1) * (0.031 + 0.007 * b) + c)
    return torch.from_numpy(v.astype(np.float32))


def resample_pos_embed(model, new_grid):
    """timm.layers.resample_abs_pos_embed as called by checkpoint_filter_fn: bicubic, antialias=True."""
    prefix = 0 if model.no_embed_class else model.pos_embed.shape[1] - int(round((model.pos_embed.shape[1] - 1) ** 0.5)) ** 2
    pos = model.pos_embed.data
    dim = pos.shape[-1]
    old_grid = int(round((pos.shape[1] - prefix) ** 0.5))
    patches = pos[:, prefix:].reshape(1, old_grid, old_grid, dim).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, size=(new_grid, new_grid), mode='bicubic', antialias=True, align_corners=False)
    patches = patches.permute(0, 2, 3, 1).reshape(1, new_grid * new_grid, dim)
    model.pos_embed = nn.Parameter(torch.cat([pos[:, :prefix], patches], dim=1))


def make_fixture():
    out_dir = os.path.join(ROOT, 'test', 'fixtures', 'vit-tiny')
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    x = make_crops(out_dir)
    for name, (arch, model_args, kw, seed) in VARIANTS.items():
        kw = dict(kw)
        hidden = kw.pop('hidden')
        model = DinoV2ViT(model_args['embed_dim'], model_args['depth'], model_args['num_heads'], hidden, **kw).eval()
        randomize(model, seed, std=0.1)
        write_timm_folder(os.path.join(out_dir, name), model, arch, model_args, model_args['embed_dim'])
        with torch.no_grad():
            y = model(x.to(torch.get_default_dtype()))  # reference in float64 so the test measures the app's error alone
        write_npy(os.path.join(out_dir, name, 'cls.npy'), y.numpy())
        if name == 'plain':
            # The same checkpoint run at other sizes: positional embedding resampled down and up.
            for size in (168, 280):
                resized = DinoV2ViT(model_args['embed_dim'], model_args['depth'], model_args['num_heads'], hidden,
                                    img_size=224, **kw).eval()
                resized.load_state_dict(model.state_dict())
                resample_pos_embed(resized, size // 14)
                with torch.no_grad():
                    y = resized(synthetic_pixels(2, size).to(torch.get_default_dtype()))
                write_npy(os.path.join(out_dir, name, f'cls-synthetic-{size}.npy'), y.numpy())
    print('wrote', out_dir)


def make_vit_s(out_dir):
    model = DinoV2ViT(384, 12, 6, 1536).eval()
    randomize(model, 7, std=0.02)
    write_timm_folder(out_dir, model, 'vit_small_patch14_dinov2', {'img_size': 224}, 384)
    print('wrote', out_dir)


if __name__ == '__main__':
    torch.set_num_threads(2)
    if len(sys.argv) >= 2 and sys.argv[1] == 'fixture':
        torch.set_default_dtype(torch.float64)
        make_fixture()
    elif len(sys.argv) >= 3 and sys.argv[1] == 'vit-s':
        make_vit_s(sys.argv[2])
    else:
        sys.exit(__doc__)
