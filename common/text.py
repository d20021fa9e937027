"""Text helpers for Vietnamese names."""

import unicodedata


def fold(text: str) -> str:
    """Lower case without diacritics, so "LÀO CAI", "Lào Cai" and "lao cai" compare equal."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(stripped.lower().split())
