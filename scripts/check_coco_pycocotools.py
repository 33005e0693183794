#!/usr/bin/env python3
"""Loads a RedDino Studio COCO export with pycocotools and checks that it reads as the export meant it.

Usage: python3 scripts/check_coco_pycocotools.py EXPORT_DIR/annotations.json [--expect-annotations N]
           [--expect-images N] [--out bench/results/coco-pycocotools.json] [--command "how the export was made"]

Developer tool only: the app and its tests never need Python. pycocotools comes from PyPI (`pip install
pycocotools`); it needs numpy.

Checks, each counted and listed in the JSON it prints (exit status 1 if any fails):
- COCO(file) builds its index; image, annotation and category ids are unique and every reference resolves;
- the annotation count (and per category) matches the raw JSON and, if given, the count the CLI reported;
- bbox is [x, y, w, h] inside the image and equals the bbox pycocotools derives from the polygons (toBbox of the
  merged RLE), within 1 px;
- segmentation is a list of polygons of >= 3 points (pycocotools treats a 4-number list as a box);
- area equals the shoelace area of the polygon (the COCO convention: float polygon areas) within 0.01 px^2, and
  annToMask on every annotation gives a non-empty (h, w) mask whose pixel count is compared to that area;
- loadRes round trip: the annotations fed back as segmentation results and as bbox results load, keep their ids,
  categories and images, get areas/bboxes consistent with the ground truth, and COCOeval scores them AP = 1.0.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import io
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def shoelace(poly: list[float]) -> float:
    x = np.asarray(poly[0::2], dtype=np.float64)
    y = np.asarray(poly[1::2], dtype=np.float64)
    return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2.0


class Checks:
    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: list[str] = []

    def check(self, ok: bool, what: str) -> bool:
        (self.passed if ok else self.failed).append(what)
        return ok


def quiet(fn, *args, **kwargs):
    """Runs a pycocotools call that prints progress lines, keeping stdout clean for the JSON."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        return fn(*args, **kwargs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('annotations')
    ap.add_argument('--expect-annotations', type=int)
    ap.add_argument('--expect-images', type=int)
    ap.add_argument('--out')
    ap.add_argument('--command', default='')
    args = ap.parse_args()

    t0 = time.time()
    ck = Checks()
    raw = json.load(open(args.annotations, encoding='utf-8'))
    coco = quiet(COCO, args.annotations)

    # Ids and references.
    img_ids = coco.getImgIds()
    ann_ids = coco.getAnnIds()
    cat_ids = coco.getCatIds()
    ck.check(len(img_ids) == len(raw['images']) == len({i['id'] for i in raw['images']}), 'image ids unique')
    ck.check(len(ann_ids) == len(raw['annotations']) == len({a['id'] for a in raw['annotations']}),
             'annotation ids unique')
    ck.check(len(cat_ids) == len(raw['categories']) == len({c['id'] for c in raw['categories']}),
             'category ids unique')
    ck.check(all(isinstance(i, int) and i >= 1 for i in img_ids + ann_ids + cat_ids), 'ids are integers >= 1')
    ck.check(all(a['image_id'] in coco.imgs for a in coco.anns.values()), 'every image_id resolves')
    ck.check(all(a['category_id'] in coco.cats for a in coco.anns.values()), 'every category_id resolves')
    ck.check(all(a.get('iscrowd') == 0 for a in coco.anns.values()), 'iscrowd is 0')
    if args.expect_annotations is not None:
        ck.check(len(ann_ids) == args.expect_annotations,
                 f'annotation count {len(ann_ids)} == CLI count {args.expect_annotations}')
    if args.expect_images is not None:
        ck.check(len(img_ids) == args.expect_images, f'image count {len(img_ids)} == CLI count {args.expect_images}')
    per_cat = {coco.cats[c]['name']: len(coco.getAnnIds(catIds=[c])) for c in cat_ids}
    raw_per_cat: dict[str, int] = {}
    for a in raw['annotations']:
        name = next(c['name'] for c in raw['categories'] if c['id'] == a['category_id'])
        raw_per_cat[name] = raw_per_cat.get(name, 0) + 1
    ck.check({k: v for k, v in per_cat.items() if v} == raw_per_cat, 'per-category counts match the raw JSON')
    per_img_sum = sum(len(coco.getAnnIds(imgIds=[i])) for i in img_ids)
    ck.check(per_img_sum == len(ann_ids), 'getAnnIds per image adds up to all annotations')
    base = os.path.dirname(os.path.abspath(args.annotations))
    missing = [i['file_name'] for i in coco.imgs.values() if not os.path.exists(os.path.join(base, i['file_name']))]
    ck.check(not missing, f'image files resolve from the JSON folder ({len(missing)} missing)')
    ck.check(all(isinstance(i['width'], int) and isinstance(i['height'], int) and i['width'] > 0 and i['height'] > 0
                 for i in coco.imgs.values()), 'image width/height are positive integers')

    # Geometry, one annotation at a time.
    bad_seg, bad_bbox, bad_inside, bad_shoelace, empty_mask, bad_shape = [], [], [], [], [], []
    rel_err: list[float] = []
    abs_err: list[float] = []
    bbox_dev = 0.0
    for a in coco.anns.values():
        img = coco.imgs[a['image_id']]
        h, w = img['height'], img['width']
        seg = a['segmentation']
        if not (isinstance(seg, list) and seg and all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0
                                                     for p in seg)):
            bad_seg.append(a['id'])
            continue
        x, y, bw, bh = a['bbox']
        if not (len(a['bbox']) == 4 and bw > 0 and bh > 0):
            bad_bbox.append(a['id'])
        if x < 0 or y < 0 or x + bw > w + 1e-6 or y + bh > h + 1e-6:
            bad_inside.append(a['id'])
        poly_area = sum(shoelace(p) for p in seg)
        if abs(poly_area - a['area']) > 0.01:
            bad_shoelace.append(a['id'])
        # The bbox pycocotools derives from the polygon (merged RLE of all rings).
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
        rb = mask_utils.toBbox(rle)
        dev = float(np.max(np.abs(np.asarray(rb, dtype=np.float64) - np.asarray(a['bbox'], dtype=np.float64))))
        bbox_dev = max(bbox_dev, dev)
        if dev > 1.0:
            bad_bbox.append(a['id'])
        m = coco.annToMask(a)
        if m.shape != (h, w):
            bad_shape.append(a['id'])
        px = int(m.sum())
        if px == 0:
            empty_mask.append(a['id'])
            continue
        abs_err.append(px - a['area'])
        rel_err.append((px - a['area']) / a['area'])
    n = len(coco.anns)
    ck.check(not bad_seg, f'segmentation is a list of polygons of >= 3 points ({len(bad_seg)} bad)')
    ck.check(not bad_bbox, f'bbox equals the polygon bbox within 1 px ({len(bad_bbox)} bad, max dev {bbox_dev})')
    ck.check(not bad_inside, f'bbox inside the image ({len(bad_inside)} outside)')
    ck.check(not bad_shoelace, f'area == polygon (shoelace) area ({len(bad_shoelace)} differ)')
    ck.check(not bad_shape, f'annToMask gives an (h, w) mask ({len(bad_shape)} bad)')
    ck.check(not empty_mask, f'annToMask non-empty for every annotation ({len(empty_mask)} empty)')
    rel = np.asarray(rel_err)
    ck.check(len(rel) == n and float(np.max(np.abs(rel))) < 0.05,
             'annToMask pixel count within 5% of the exported area for every annotation')

    # loadRes round trip: the ground truth fed back as perfect detections.
    # Segmentation results are RLE (the results format), encoded from each polygon by annToRLE; both result lists
    # go through a JSON file, as a detector's output would.
    seg_res = []
    for a in coco.anns.values():
        rle = coco.annToRLE(a)
        seg_res.append({'image_id': a['image_id'], 'category_id': a['category_id'], 'score': 1.0,
                        'segmentation': {'size': [int(s) for s in rle['size']], 'counts': rle['counts'].decode()}})
    box_res = [{'image_id': a['image_id'], 'category_id': a['category_id'], 'bbox': a['bbox'], 'score': 1.0}
               for a in coco.anns.values()]
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, res in (('segm.json', seg_res), ('bbox.json', box_res)):
            paths.append(os.path.join(tmp, name))
            with open(paths[-1], 'w', encoding='utf-8') as f:
                json.dump(res, f)
        dt_seg = quiet(coco.loadRes, paths[0])
        dt_box = quiet(coco.loadRes, paths[1])
    ck.check(len(dt_seg.anns) == n and len(dt_box.anns) == n, 'loadRes keeps every result')
    ck.check(sorted(dt_seg.getImgIds()) == sorted(img_ids) and sorted(dt_box.getImgIds()) == sorted(img_ids),
             'loadRes keeps the images')
    gt_by_order = list(coco.anns.values())
    seg_area_dev = max(abs(d['area'] - int(coco.annToMask(g).sum()))
                       for d, g in zip(dt_seg.anns.values(), gt_by_order))
    ck.check(seg_area_dev < 0.5, f'loadRes segm areas equal the annToMask pixel counts (max dev {seg_area_dev})')
    box_dev = max(float(np.max(np.abs(np.asarray(d['bbox']) - np.asarray(g['bbox']))))
                  for d, g in zip(dt_box.anns.values(), gt_by_order))
    ck.check(box_dev == 0.0, 'loadRes bbox results keep the boxes')
    ck.check(all(d['category_id'] == g['category_id'] and d['image_id'] == g['image_id']
                 for d, g in zip(dt_seg.anns.values(), gt_by_order)), 'loadRes keeps categories and images')
    aps = {}
    for iou_type, dt in (('segm', dt_seg), ('bbox', dt_box)):
        ev = COCOeval(coco, dt, iou_type)
        # A field holds more than COCOeval's default 100 detections per image; count them all.
        ev.params.maxDets = [1, 10, max(100, max(len(coco.getAnnIds(imgIds=[i])) for i in img_ids))]
        quiet(ev.evaluate)
        quiet(ev.accumulate)
        # summarize() hard-codes maxDets=100 for its first figure, so AP and AR are read from the accumulated
        # arrays: IoU 0.50:0.95, all areas, the last maxDets.
        prec = ev.eval['precision'][:, :, :, 0, -1]
        rec = ev.eval['recall'][:, :, 0, -1]
        ap50 = ev.eval['precision'][0, :, :, 0, -1]
        aps[iou_type] = {'AP': round(float(np.mean(prec[prec > -1])), 6),
                         'AP50': round(float(np.mean(ap50[ap50 > -1])), 6),
                         'AR': round(float(np.mean(rec[rec > -1])), 6), 'maxDets': ev.params.maxDets[-1]}
        ck.check(aps[iou_type]['AP'] == 1.0 and aps[iou_type]['AR'] == 1.0,
                 f'COCOeval {iou_type}: the ground truth scored against itself has AP = AR = 1.0')

    load = os.getloadavg()
    result = {
        'what': 'RedDino Studio COCO export read with pycocotools',
        'file': os.path.abspath(args.annotations),
        'command': args.command,
        'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
        'pycocotools': importlib.metadata.version('pycocotools'),
        'numpy': np.__version__,
        'python': platform.python_version(),
        'images': len(img_ids),
        'annotations': n,
        'categories': len(cat_ids),
        'annotationsPerCategory': {k: v for k, v in per_cat.items() if v},
        'maskVsArea': {
            'meanRelative': round(float(np.mean(rel)), 5),
            'maxAbsRelative': round(float(np.max(np.abs(rel))), 5),
            'meanPixels': round(float(np.mean(abs_err)), 3),
            'note': 'annToMask pixel count minus the exported polygon area (COCO areas are polygon areas)',
        },
        'maxBboxDeviationPx': bbox_dev,
        'cocoeval': aps,
        'passed': len(ck.passed),
        'failed': ck.failed,
        'checks': ck.passed + ck.failed,
        'seconds': round(time.time() - t0, 2),
        'loadAverage': [round(x, 2) for x in load],
    }
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(text + '\n')
    return 1 if ck.failed else 0


if __name__ == '__main__':
    sys.exit(main())
