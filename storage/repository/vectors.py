"""Sentence vectors of the knowledge base's wordings, by encoder and text."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from storage.models import sentence_vectors
from storage.repository._sql import Repository, insert_for, per_dialect

_BATCH = 500  # texts per statement: well under every driver's bound-parameter limit


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _build_save(dialect: str) -> Any:
    return insert_for(dialect, sentence_vectors).on_conflict_do_nothing()


_save = per_dialect(_build_save)


class VectorRepository(Repository):
    """`core.store.SentenceVectors` over SQL."""

    def load(self, model: str, texts: Sequence[str]) -> dict[str, bytes]:
        by_hash = {text_hash(text): text for text in texts}
        hashes = list(by_hash)
        found: dict[str, bytes] = {}
        for start in range(0, len(hashes), _BATCH):
            rows = self.conn.execute(
                select(sentence_vectors.c.text_hash, sentence_vectors.c.vector).where(
                    sentence_vectors.c.model == model,
                    sentence_vectors.c.text_hash.in_(hashes[start : start + _BATCH]),
                )
            )
            found |= {by_hash[digest]: bytes(vector) for digest, vector in rows}
        return found

    def save(self, model: str, vectors: Mapping[str, bytes]) -> None:
        rows = [
            {"model": model, "text_hash": text_hash(text), "vector": vector}
            for text, vector in vectors.items()
        ]
        for start in range(0, len(rows), _BATCH):
            self.conn.execute(_save(self.conn), rows[start : start + _BATCH])
