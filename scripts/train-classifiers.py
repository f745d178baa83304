#!/usr/bin/env python3
"""Trains Warden's injection/jailbreak and harmful-request classifiers from ../shared/data/guardrails and
writes their weights to Sources/Guardrails/Resources/{injection,harmful}.bin.

Features (the Swift side computes exactly the same, see Sources/Guardrails/Classifier.swift):
normalise (NFKC, lowercase, drop zero-width characters, collapse whitespace, and a de-leeted copy where
0→o 1→i 3→e 4→a 5→s 7→t @→a $→s), then word unigrams and bigrams and character 4-grams of both copies,
each hashed with FNV-1a (32-bit) into 2^18 buckets, sublinear term frequency (1 + ln n), L2-normalised.
Model: L2-regularised logistic regression. Weights are stored as int8 with one scale (little-endian:
magic "WGC1", u32 buckets, f32 scale, f32 bias, f32 threshold, then the int8 weights).

    python3 -m venv /tmp/gv && /tmp/gv/bin/pip install scikit-learn
    /tmp/gv/bin/python scripts/train-classifiers.py            # train on all dev rows, write the weights
    /tmp/gv/bin/python scripts/train-classifiers.py --holdout  # also report F1 on a 25 % split first
"""
import argparse, json, math, random, struct, sys, unicodedata
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared/data/guardrails"
BUCKETS = 1 << 18
ZERO_WIDTH = {0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF, 0x00AD}
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
MAX_CHARS = 4000


def normalise(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).lower()
    t = "".join(c for c in t if ord(c) not in ZERO_WIDTH)
    return " ".join(t.split())[:MAX_CHARS]


def fnv1a(s: str) -> int:
    h = 0x811C9DC5
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def words(t: str):
    out, cur = [], []
    for c in t:
        if c.isalnum():
            cur.append(c)
        elif cur:
            out.append("".join(cur)); cur = []
    if cur:
        out.append("".join(cur))
    return out


def features(text: str) -> dict:
    counts = {}
    t = normalise(text)
    for prefix, variant in (("", t), ("l", t.translate(LEET))):
        ws = words(variant)
        for i, w in enumerate(ws):
            k = fnv1a(prefix + "w:" + w) % BUCKETS
            counts[k] = counts.get(k, 0) + 1
            if i + 1 < len(ws):
                k = fnv1a(prefix + "b:" + w + " " + ws[i + 1]) % BUCKETS
                counts[k] = counts.get(k, 0) + 1
        for i in range(len(variant) - 3):
            k = fnv1a(prefix + "c:" + variant[i:i + 4]) % BUCKETS
            counts[k] = counts.get(k, 0) + 1
    vec = {k: 1 + math.log(n) for k, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1
    return {k: v / norm for k, v in vec.items()}


def matrix(rows):
    data, indices, indptr = [], [], [0]
    for r in rows:
        f = features(r["text"])
        for k in sorted(f):
            indices.append(k); data.append(f[k])
        indptr.append(len(indices))
    return csr_matrix((data, indices, indptr), shape=(len(rows), BUCKETS), dtype=np.float64)


def f1(y, p):
    tp = sum(1 for a, b in zip(y, p) if a and b); fp = sum(1 for a, b in zip(y, p) if not a and b); fn = sum(1 for a, b in zip(y, p) if a and not b)
    prec = tp / (tp + fp) if tp + fp else 0; rec = tp / (tp + fn) if tp + fn else 0
    return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0)


def train(rows, C):
    model = LogisticRegression(C=C, max_iter=2000, class_weight="balanced")
    model.fit(matrix(rows), [r["label"] for r in rows])
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--holdout", action="store_true")
    args = ap.parse_args()
    sets = {"injection": "injection/injection_jailbreak.dev.jsonl", "harmful": "harmful/harmful_requests.dev.jsonl"}
    for name, path in sets.items():
        rows = [json.loads(l) for l in open(DATA / path)]
        C = 8.0
        if args.holdout:
            rng = random.Random(7); rng.shuffle(rows)
            cut = int(len(rows) * 0.75)
            model = train(rows[:cut], C)
            test = rows[cut:]
            probs = model.predict_proba(matrix(test))[:, 1]
            p, r, f = f1([t["label"] for t in test], [x >= 0.5 for x in probs])
            hn = [x for t, x in zip(test, probs) if t["label"] == 0 and t.get("hard_negative")]
            print(f"{name}: holdout P {p:.3f} R {r:.3f} F1 {f:.3f}; hard-negative FPR {sum(x >= 0.5 for x in hn) / max(1, len(hn)):.3f} ({len(hn)})")
        model = train(rows, C)
        coef = model.coef_[0].astype(np.float32)
        scale = float(np.abs(coef).max() / 127) or 1.0
        q = np.clip(np.round(coef / scale), -127, 127).astype(np.int8)
        out = ROOT / f"Sources/Guardrails/Resources/{name}.bin"
        with open(out, "wb") as fh:
            fh.write(b"WGC1" + struct.pack("<Ifff", BUCKETS, scale, float(model.intercept_[0]), 0.5) + q.tobytes())
        print(f"{name}: trained on {len(rows)} rows, wrote {out.relative_to(ROOT)} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
