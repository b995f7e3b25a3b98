"""Every catalog text that becomes a button fits the smallest label any platform shows whole
(VK cuts labels at 40 characters), in both languages: a label cut off mid-word reads badly."""

from __future__ import annotations

from channels.slack_format import MAX_BUTTON_LABEL as SLACK_LIMIT
from channels.vk_outbound import BUTTON_LABEL_LIMIT as VK_LIMIT
from core.i18n import Texts

SMALLEST_LIMIT = min(VK_LIMIT, SLACK_LIMIT)


def test_every_button_text_fits_every_platform():
    texts = Texts()
    too_long = []
    for language, catalog in texts.catalogs.items():
        for key, entry in catalog.items():
            if not key.startswith("button."):
                continue
            # The widest value a placeholder takes in a label: a score, a page number.
            for label in (entry,) if isinstance(entry, str) else entry:
                shown = label.format(score=5, count=99, page=99)
                if len(shown) > SMALLEST_LIMIT:
                    too_long.append(f"{language} {key}: {len(shown)} > {SMALLEST_LIMIT}")
    assert not too_long, too_long
    assert any(key.startswith("button.") for key in texts.catalogs["ru"])  # the test sees them
