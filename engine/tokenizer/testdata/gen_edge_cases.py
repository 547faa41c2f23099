#!/usr/bin/env python3
"""Writes edge_cases.json: reference ids for inputs that exercise Python's
text handling where Go's standard library differs (html.unescape,
str.isspace, str.lower, the `regex` module's IGNORECASE split).

The reference is OpenAI's simple_tokenizer.py (openai/CLIP d05afc43) with
ftfy.fix_text as the identity, padded and truncated the way Hugging Face
CLIPTokenizer(padding="max_length", max_length=77, truncation=True) does;
see shared/golden/README.md section 1. It needs only `regex`:

    python3 gen_edge_cases.py   # from this directory
"""
import html
import json
import os
import re

import regex

HERE = os.path.dirname(os.path.abspath(__file__))
CLIP = os.path.join(HERE, "..", "..", "..", "assets", "clip")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class Reference:
    def __init__(self):
        with open(os.path.join(CLIP, "vocab.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(os.path.join(CLIP, "merges.txt"), encoding="utf-8") as f:
            merges = f.read().strip().split("\n")[1:]
        self.ranks = {tuple(m.split()): i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
        self.pat = regex.compile(
            r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
            regex.IGNORECASE,
        )

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        out = " ".join(word)
        self.cache[token] = out
        return out

    def encode(self, text):
        text = html.unescape(html.unescape(text)).strip()  # ftfy: identity
        text = re.sub(r"\s+", " ", text).strip().lower()
        ids = []
        for token in self.pat.findall(text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        ids = [49406] + ids[:75] + [49407]
        return ids + [49407] * (77 - len(ids))


CASES = [
    ("entity-named", "fish &amp; chips &lt;3 &quot;hi&quot;"),
    ("entity-no-semicolon", "salt &amp pepper &ampx &notin &notit; &copy2024"),
    ("entity-double", "&amp;amp; and &amp;lt;b&amp;gt;"),
    ("entity-numeric", "&#65;&#x42;&#X43 &#x1F600; &#128512;"),
    ("entity-numeric-cp1252", "&#150; &#x80; &#153;"),
    ("entity-numeric-dropped", "a&#1;b &#x7f;c &#xFDD0;d &#xFFFF;e"),
    ("entity-numeric-invalid", "x&#0;y &#xD800; &#99999999999999999999999;z &#x110000;"),
    ("entity-unknown", "&bogus; &#; &#x; & alone &;"),
    ("entity-nbsp", "a&nbsp;b&#160;c&#x3000;d"),
    ("ws-unicode", "a\u00a0b\u3000c\u2009d\u202fe\u205ff\u1680g\u0085h\u2028i"),
    ("ws-info-separators", "a\x1cb\x1dc\x1ed\x1fe"),
    ("ws-not-space", "a\u200bb\ufeffc\u180ed"),
    ("lower-dotted-i", "İstanbul İ"),
    ("lower-final-sigma", "ΟΔΟΣ ΟΔΟΣ. Σ ΑΣ' ΑΣ'Α ΑΣΑ"),
    ("lower-titlecase", "ǅemal ǈubljana ǋ"),
    ("lower-other", "ÀÉÎÕÜ ẞ Ω K Å ΣΑΣ"),
    ("split-long-s", "it'ſ <|ſtartoftext|> 'ſ"),
    ("split-contractions", "I'M we'LL they'RE you'VE he'D can'T it'S 'sam 'x"),
    ("split-apostrophe-run", "''s !'s rock'n'roll"),
    ("split-special", "<|startoftext|>a<|endoftext|>b <|ENDOFTEXT|> !<|endoftext|>"),
    ("split-digits", "x123y ٣٤ ½ Ⅻ ²"),
    ("split-marks", "e\u0301 a\u0308b \u0915\u093f"),
    ("emoji-zwj", "👩‍👩‍👧 🏳️‍🌈 👍🏽"),
    ("cjk-kana-hangul", "東京タワー ひらがな 한국어"),
    ("symbols", "$100 #tag @user ~~ → ©®™"),
    ("truncate-emoji", "😀" * 40),
    ("truncate-exact-75", " ".join(["cat"] * 75)),
    ("truncate-76", " ".join(["cat"] * 76)),
]


def main():
    ref = Reference()
    out = {
        "vocab": "clip-vit-large-patch14",
        "max_length": 77,
        "bos_id": 49406,
        "eos_id": 49407,
        "pad_id": 49407,
        "generator": "gen_edge_cases.py",
        "cases": [{"name": n, "text": t, "ids": ref.encode(t)} for n, t in CASES],
    }
    with open(os.path.join(HERE, "edge_cases.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
