"""CLIP BPE tokenizer (the ids the Go engine's tokenizer produces).

The same algorithm as openai/CLIP's SimpleTokenizer and Hugging Face's
CLIPTokenizer: lower-case, collapse whitespace, split into words, BPE over the
byte-to-unicode alphabet with '</w>' marking a word's end. Python's `re` lacks
\\p{L}; [^\\W\\d_] is the same class for the prompts this trainer writes.
"""
import functools
import html
import json
import os
import re

SOT, EOT, LENGTH = 49406, 49407, 77

_PAT = re.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+""",
    re.IGNORECASE)


def _bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def default_vocab_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "..", "assets", "clip"))


class Tokenizer:
    def __init__(self, vocab_dir=None):
        vocab_dir = vocab_dir or default_vocab_dir()
        with open(os.path.join(vocab_dir, "vocab.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(os.path.join(vocab_dir, "merges.txt"), encoding="utf-8") as f:
            lines = f.read().split("\n")
        merges = [tuple(l.split()) for l in lines[1:] if l.strip() and not l.startswith("#version")]
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.byte_encoder = _bytes_to_unicode()

    @functools.lru_cache(maxsize=4096)
    def _bpe(self, token):
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = tuple(out)
        return word

    def encode(self, text):
        text = html.unescape(html.unescape(text)).strip()
        text = re.sub(r"\s+", " ", text).strip().lower()
        ids = []
        for tok in _PAT.findall(text):
            if tok in ("<|startoftext|>", "<|endoftext|>"):
                ids.append(SOT if tok == "<|startoftext|>" else EOT)
                continue
            tok = "".join(self.byte_encoder[b] for b in tok.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self._bpe(tok))
        return ids

    def __call__(self, text):
        """77 ids: start, the text (truncated), end, padded with the end token."""
        ids = [SOT] + self.encode(text)[: LENGTH - 2] + [EOT]
        return ids + [EOT] * (LENGTH - len(ids))
