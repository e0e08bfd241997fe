#!/usr/bin/python3
"""
Builds the tiny BERT-style sentence encoder that the ONNX sentence-encoder tests load
(test/fixtures/tiny-encoder/): random weights from a fixed seed, exported with torch.onnx.export,
a Hugging Face tokenizer.json written by hand, and reference outputs computed by PyTorch.

Run with Debian's python3-torch (1.13): /usr/bin/python3 scripts/make-tiny-encoder.py [out_dir]
CI has no torch: the generated files are committed; test/node/tl-text-encoder.slow.test.ts runs
this script again where torch is installed and checks that it writes the same numbers.
"""
import json
import math
import os
import sys

import torch
from torch import nn

SEED = 15
HIDDEN = 32
LAYERS = 2
HEADS = 2
INTERMEDIATE = 64
MAX_POSITIONS = 64
TYPES = 2

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCTUATION = list(".,!?'\"-:;()")
WORDS = (
    "the a an and or of in on to my is it this that with for was are be not no yes i you we they "
    "cat cats dog dogs kitten puppy pet pets fur paw bark purr sleep play ball toy vet food bowl "
    "code compiler program bug bugs server crash test build deploy function variable loop error "
    "stack memory thread "
    "hello world good bad new old big small fast slow "
    "un aff"
).split()
PIECES = ["##able", "##aff", "##s", "##ing", "##ed", "##er", "##ly"]
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
DIGITS = [str(d) for d in range(10)]


def vocabulary():
    tokens = SPECIALS + PUNCTUATION + DIGITS + LETTERS + ["##" + c for c in LETTERS] + WORDS + PIECES
    seen = set()
    out = []
    for t in tokens:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def tokenizer_json(vocab):
    ids = {t: i for i, t in enumerate(vocab)}
    special = [{"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True} for t in SPECIALS]
    return {
        "version": "1.0",
        # As sentence-transformers' tokenizers say: texts are cut to the encoder's positions.
        "truncation": {"direction": "Right", "max_length": MAX_POSITIONS, "strategy": "LongestFirst", "stride": 0},
        "padding": None,
        "added_tokens": special,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [
                {"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                {"Sequence": {"id": "B", "type_id": 1}},
                {"SpecialToken": {"id": "[SEP]", "type_id": 1}},
            ],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [ids["[CLS]"]], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [ids["[SEP]"]], "tokens": ["[SEP]"]},
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": ids},
    }


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(HIDDEN, HIDDEN)
        self.k = nn.Linear(HIDDEN, HIDDEN)
        self.v = nn.Linear(HIDDEN, HIDDEN)
        self.o = nn.Linear(HIDDEN, HIDDEN)
        self.ln1 = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.up = nn.Linear(HIDDEN, INTERMEDIATE)
        self.down = nn.Linear(INTERMEDIATE, HIDDEN)
        self.ln2 = nn.LayerNorm(HIDDEN, eps=1e-12)

    def heads(self, x):
        b, s, _ = x.shape
        return x.view(b, s, HEADS, HIDDEN // HEADS).transpose(1, 2)

    def forward(self, x, bias):
        q, k, v = self.heads(self.q(x)), self.heads(self.k(x)), self.heads(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(HIDDEN // HEADS) + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(x.shape)
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.down(nn.functional.gelu(self.up(x))))


class TinyBert(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.words = nn.Embedding(vocab_size, HIDDEN)
        self.positions = nn.Embedding(MAX_POSITIONS, HIDDEN)
        self.types = nn.Embedding(TYPES, HIDDEN)
        self.ln = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.layers = nn.ModuleList([Layer() for _ in range(LAYERS)])

    def forward(self, input_ids, attention_mask, token_type_ids):
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = self.ln(self.words(input_ids) + self.positions(positions) + self.types(token_type_ids))
        # Padding gets no attention: -10000 before the softmax, as BERT's extended attention mask.
        bias = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return x


def pooled(hidden, mask):
    m = mask.unsqueeze(-1).to(torch.float32)
    mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    mx = (hidden + (m - 1) * 1e9).max(1).values
    return {"mean": mean, "cls": hidden[:, 0], "max": mx}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "tiny-encoder")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(SEED)
    vocab = vocabulary()
    ids = {t: i for i, t in enumerate(vocab)}
    model = TinyBert(len(vocab)).eval()
    with torch.no_grad():
        # Larger than default embeddings so that words, not positions, dominate the sentence vectors.
        model.words.weight.normal_(0, 1.0)
        model.positions.weight.normal_(0, 0.1)
        model.types.weight.normal_(0, 0.1)

    sample = (torch.tensor([[2, 40, 3, 0]]), torch.tensor([[1, 1, 1, 0]]), torch.zeros(1, 4, dtype=torch.int64))
    onnx_file = os.path.join(out, "model.onnx")
    torch.onnx.export(
        model,
        sample,
        onnx_file,
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "sequence"} for n in ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]},
        opset_version=14,
        do_constant_folding=True,
    )
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab), f, ensure_ascii=False, indent=1)
        f.write("\n")

    # Token splits known by construction (BertNormalizer lower-cases and strips accents; BertPreTokenizer
    # splits punctuation; WordPiece takes the longest piece first; [CLS] $A [SEP]).
    splits = {
        "The cat and the dog.": ["the", "cat", "and", "the", "dog", "."],
        "unaffable": ["un", "##aff", "##able"],
        "Héllo, WORLD!": ["hello", ",", "world", "!"],
        "zq cats": ["z", "##q", "cats"],
        "a\u0000b\u001b[2J \u20ac": ["a", "##b", "[UNK]", "2", "##j", "[UNK]"],
        "": [],
    }
    texts = [{"text": t, "tokens": ["[CLS]"] + s + ["[SEP]"], "ids": [ids["[CLS]"]] + [ids.get(w, ids["[UNK]"]) for w in s] + [ids["[SEP]"]]} for t, s in splits.items()]

    # Reference vectors: one padded batch of id sequences of different lengths.
    seqs = [t["ids"] for t in texts[:4]]
    length = max(len(s) for s in seqs)
    input_ids = torch.tensor([s + [0] * (length - len(s)) for s in seqs])
    mask = torch.tensor([[1] * len(s) + [0] * (length - len(s)) for s in seqs])
    with torch.no_grad():
        hidden = model(input_ids, mask, torch.zeros_like(input_ids))
    p = pooled(hidden, mask)
    reference = {
        "made_by": "scripts/make-tiny-encoder.py",
        "torch": torch.__version__,
        "seed": SEED,
        "config": {"hidden": HIDDEN, "layers": LAYERS, "heads": HEADS, "intermediate": INTERMEDIATE, "max_positions": MAX_POSITIONS, "vocab_size": len(vocab)},
        "texts": texts,
        "batch": {"input_ids": input_ids.tolist(), "attention_mask": mask.tolist()},
        "pooled": {k: [[round(float(x), 7) for x in row] for row in v] for k, v in p.items()},
    }
    with open(os.path.join(out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {out}: vocab {len(vocab)}, model.onnx {os.path.getsize(onnx_file)} bytes")


if __name__ == "__main__":
    main()
