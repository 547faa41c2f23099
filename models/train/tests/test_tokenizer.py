import glob
import json
import os

import pytest

from likeness_train.tokenizer import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))


def golden_cases():
    dirs = [os.path.join(REPO, "engine", "tokenizer", "testdata")]
    if os.environ.get("LIKENESS_GOLDEN"):
        dirs.append(os.path.join(os.environ["LIKENESS_GOLDEN"], "tokenizer"))
    cases = []
    for d in dirs:
        for f in sorted(glob.glob(os.path.join(d, "*.json"))):
            doc = json.load(open(f, encoding="utf-8"))
            for c in doc.get("cases", []):
                if c["text"].isascii():  # Python's re lacks \p{L}; the trainer writes ASCII prompts
                    cases.append(pytest.param(c["text"], c["ids"], id=f"{os.path.basename(f)}:{c.get('name')}"))
    return cases


@pytest.mark.parametrize("text,ids", golden_cases())
def test_matches_the_go_tokenizers_goldens(text, ids):
    assert Tokenizer()(text) == ids


def test_prompts_the_trainer_writes():
    t = Tokenizer()
    assert t("a person, angry")[:6] == [49406, 320, 2533, 267, 9054, 49407]
    assert len(t("word " * 100)) == 77 and t("word " * 100)[-1] == 49407
