"""Knowledge base: normalization, the fuzzy matcher, small-talk detection, import/export and a
sample FAQ. Implements `core.ports.Matcher`; imports nothing from channels/ or storage/."""

from __future__ import annotations

from pathlib import Path

__all__ = ["sample_faq_path"]


def sample_faq_path() -> Path:
    """The bundled sample knowledge base (YAML, about 20 entries in Russian and English)."""
    return Path(__file__).with_name("sample_faq.yaml")
