"""Choosing the best of several drafts of one poem."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.craft.checks import check
from bot.craft.clean import clean_draft
from bot.craft.forms import Form
from bot.craft.result import FormCheck


@dataclass(frozen=True)
class Draft:
    index: int  # its place among the drafts, from 0
    raw: str  # what the model wrote
    poem: str  # the cleaned lines, joined: what a reader is shown
    check: FormCheck


@dataclass(frozen=True)
class Choice:
    best: Draft
    drafts: tuple[Draft, ...]  # all of them, in the order given

    @property
    def first(self) -> Draft:
        return self.drafts[0]


def best_draft(drafts: Sequence[str], form: Form, word: str = "") -> Choice:
    """Check every draft and pick the best: passing first, then the highest score, then the earliest
    (so the same drafts always give the same choice). Raises ValueError for no drafts."""
    if not drafts:
        raise ValueError("best_draft needs at least one draft")
    checked = tuple(Draft(i, raw, "\n".join(clean_draft(raw)), check(form, raw, word)) for i, raw in enumerate(drafts))
    best = min(checked, key=lambda d: (not d.check.passed, -d.check.score, d.index))
    return Choice(best, checked)
