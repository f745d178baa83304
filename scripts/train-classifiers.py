#!/usr/bin/env python3
"""Trains Warden's injection/jailbreak and harmful-request classifiers from ../shared/data/guardrails and
writes their weights to Sources/Guardrails/Resources/{injection,harmful}.bin.

Features (the Swift side computes exactly the same, see Sources/Guardrails/Classifier.swift):
normalise (NFKC, lowercase, drop zero-width characters, collapse whitespace; a text over 1,400 scalars
keeps its first 1,000 and last 400, joined by a space — jailbreak suffixes sit at the end), and a
de-leeted copy where 0→o 1→i 3→e 4→a 5→s 7→t @→a $→s; word unigrams and bigrams and character 4-grams
of both copies, plus structural tokens of the normalised text (length, punctuation and bracket ratios,
of the whole and of its tail, words mixing letters and symbols, non-ASCII letters, the longest word, a
base64-like run), each hashed with FNV-1a (32-bit) into 2^18 buckets, sublinear term frequency
(1 + ln n), L2-normalised. Model: L2-regularised logistic regression (C = 32, balanced classes).
Weights are stored as int8 with one scale (little-endian: magic "WGC1", u32 buckets, f32 scale,
f32 bias, f32 threshold, then the int8 weights). Holdout numbers: a random 25 % split, and a grouped
one that keeps near-duplicates and each source's families on one side (closer to a held-out set).

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
HEAD, TAIL = 1000, 400
RAW_CAP = 20000  # longer raw texts keep their first and last 10,000 scalars before normalisation
BRACKETS = set("[]{}()<>\\|`^~")


def normalise(text: str) -> str:
    if len(text) > RAW_CAP:
        text = text[:RAW_CAP // 2] + " " + text[-(RAW_CAP // 2):]
    t = unicodedata.normalize("NFKC", text).lower()
    t = "".join(c for c in t if ord(c) not in ZERO_WIDTH)
    t = " ".join(t.split())
    if len(t) > HEAD + TAIL:
        t = t[:HEAD] + " " + t[-TAIL:]
    return t


def structural(t: str) -> list:
    """Pseudo-tokens describing the text's shape (the same arithmetic as Swift's, in doubles)."""
    out = []
    L = len(t)
    out.append("s:len:%d" % ((L + 1).bit_length() - 1))
    nonspace = [c for c in t if c != " "]
    N = max(1, len(nonspace))
    punct = sum(1 for c in nonspace if not c.isalnum())
    out.append("s:pr:%d" % min(10, int(20 * punct / N)))
    if L > 200:
        tail = t[-160:]
        tn = [c for c in tail if c != " "]
        tp = sum(1 for c in tn if not c.isalnum()) / max(1, len(tn))
        out.append("s:tpr:%d" % min(10, int(20 * tp)))
        out.append("s:tbr:%d" % min(8, sum(1 for c in tail if c in BRACKETS)))
    out.append("s:br:%d" % min(10, int(sum(1 for c in t if c in BRACKETS) * 100 / max(1, L))))
    ws = t.split(" ")
    mixed = sum(1 for w in ws if any(c.isalnum() for c in w) and sum(1 for c in w if not c.isalnum()) >= 2)
    out.append("s:mix:%d" % min(10, int(20 * mixed / max(1, len(ws)))))
    na = sum(1 for c in nonspace if c.isalpha() and ord(c) > 127)
    out.append("s:na:%d" % min(10, int(10 * na / N)))
    out.append("s:lw:%d" % min(10, max((len(w) for w in ws), default=0) // 4))
    run = 0
    for c in t:
        run = run + 1 if c in "abcdefghijklmnopqrstuvwxyz0123456789+/" else 0
        if run >= 24:
            out.append("s:b64")
            break
    return out


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
    for token in structural(t):
        k = fnv1a(token) % BUCKETS
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
    ap.add_argument("--out", default=str(ROOT / "Sources/Guardrails/Resources"), help="where to write NAME.bin")
    args = ap.parse_args()
    sets = {"injection": "injection/injection_jailbreak.dev.jsonl", "harmful": "harmful/harmful_requests.dev.jsonl"}
    for name, path in sets.items():
        rows = [json.loads(l) for l in open(DATA / path)]
        C = 32.0
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
        out = Path(args.out) / f"{name}.bin"
        with open(out, "wb") as fh:
            fh.write(b"WGC1" + struct.pack("<Ifff", BUCKETS, scale, float(model.intercept_[0]), 0.5) + q.tobytes())
        print(f"{name}: trained on {len(rows)} rows, wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
