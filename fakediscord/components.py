"""Message components and modals: walking them, Discord's limits, and what a user's submission looks like.

Limits are checked server-side by Discord with a 400 (code 50035); the bot only finds out when it
sends, so the fake must refuse the same payloads. What a *user* could never do (click a missing
button, leave a required modal field empty) raises ``FakeUsageError`` in the test instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .errors import FakeUsageError, field_error, invalid_form
from .models import JSON

ACTION_ROW, BUTTON, STRING_SELECT, TEXT_INPUT = 1, 2, 3, 4
SELECT_TYPES = {3, 5, 6, 7, 8}
LABEL = 18
LINK_STYLE, PREMIUM_STYLE = 5, 6


def walk_components(components: Sequence[JSON]) -> Iterator[JSON]:
    """Every component, depth first (rows, containers, sections' accessories, labels' children)."""
    for comp in components:
        yield comp
        yield from walk_components(comp.get("components") or [])
        for key in ("component", "accessory"):
            if isinstance(comp.get(key), dict):
                yield from walk_components([comp[key]])


def find_component(components: Sequence[JSON], *, custom_id: str | None, label: str | None) -> JSON:
    """The interactive component a user would click, by custom_id or visible label."""
    for comp in walk_components(components):
        if custom_id is not None and comp.get("custom_id") == custom_id:
            return comp
        if custom_id is None and label is not None and comp.get("label") == label:
            return comp
    available = [(c.get("custom_id"), c.get("label")) for c in walk_components(components) if c.get("type") != 1]
    raise FakeUsageError(f"no component with custom_id={custom_id!r} label={label!r}; the message has {available}")


def _err(path: list[str | int], code: str, message: str) -> Any:
    errors: Any = field_error(code, message)
    for key in reversed(path):
        errors = {str(key): errors}
    return invalid_form(errors)


def validate_components(components: Sequence[JSON], *, v2: bool) -> None:
    """Discord's limits on message components (classic action rows, or a components-v2 layout)."""
    seen: set[str] = set()
    for comp in walk_components(components):
        cid = comp.get("custom_id")
        if cid is None:
            continue
        if not 1 <= len(cid) <= 100:
            raise _err(["components", "custom_id"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if cid in seen:
            raise _err(["components"], "COMPONENT_CUSTOM_ID_DUPLICATED", f"Component custom id {cid!r} is duplicated")
        seen.add(cid)
    if v2:
        if sum(1 for _ in walk_components(components)) > 40:
            raise _err(["components"], "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in length.")
        return
    if len(components) > 5:
        raise _err(["components"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for i, row in enumerate(components):
        if row.get("type") != ACTION_ROW:
            raise _err(["components", i, "type"], "UNION_TYPE_CHOICES", 'Value of field "type" must be 1.')
        children = row.get("components") or []
        if not 1 <= len(children) <= 5:
            raise _err(["components", i, "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        if any(c.get("type") in SELECT_TYPES for c in children) and len(children) > 1:
            raise _err(["components", i, "components"], "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Select menus take a row.")
        for j, child in enumerate(children):
            _validate_child(child, ["components", i, "components", j])


def _validate_child(child: JSON, path: list[str | int]) -> None:
    if child.get("type") == BUTTON:
        if len(child.get("label") or "") > 80:
            raise _err([*path, "label"], "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length.")
        if child.get("style") == LINK_STYLE:
            if not child.get("url") or child.get("custom_id"):
                raise _err(path, "BUTTON_COMPONENT_INVALID_URL", "Link buttons need a url and no custom_id.")
        elif child.get("style") != PREMIUM_STYLE and not child.get("custom_id"):
            raise _err([*path, "custom_id"], "BASE_TYPE_REQUIRED", "This field is required")
    elif child.get("type") == STRING_SELECT:
        options = child.get("options") or []
        if not 1 <= len(options) <= 25:
            raise _err([*path, "options"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length.")


def validate_modal(modal: JSON) -> None:
    """Discord's limits on a modal (type 9 callback data)."""
    if not 1 <= len(modal.get("title") or "") <= 45:
        raise _err(["data", "title"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.")
    if not 1 <= len(modal.get("custom_id") or "") <= 100:
        raise _err(["data", "custom_id"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    rows = modal.get("components") or []
    if not 1 <= len(rows) <= 5:
        raise _err(["data", "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    for i, comp in enumerate(walk_components(rows)):
        if comp.get("type") == TEXT_INPUT:
            if comp.get("label") is not None and len(comp["label"]) > 45:
                raise _err(["data", "components", i, "label"], "BASE_TYPE_MAX_LENGTH", "Must be 45 or fewer in length.")
            if int(comp.get("max_length") or 4000) > 4000 or len(comp.get("value") or "") > 4000:
                raise _err(["data", "components", i], "BASE_TYPE_MAX_LENGTH", "Must be 4000 or fewer in length.")
        if comp.get("type") == LABEL and len(comp.get("label") or "") > 45:
            raise _err(["data", "components", i, "label"], "BASE_TYPE_MAX_LENGTH", "Must be 45 or fewer in length.")


def modal_inputs(modal: JSON) -> dict[str, JSON]:
    """The modal's input components by custom_id (text inputs and selects)."""
    return {
        c["custom_id"]: c
        for c in walk_components(modal.get("components") or [])
        if c.get("type") in {TEXT_INPUT, *SELECT_TYPES} and "custom_id" in c
    }


def modal_submission(modal: JSON, values: Mapping[str, str | Sequence[str]]) -> list[JSON]:
    """The ``data.components`` a Discord client sends when a user submits ``modal`` with ``values``."""
    inputs = modal_inputs(modal)
    unknown = set(values) - set(inputs)
    if unknown:
        raise FakeUsageError(
            f"modal {modal.get('custom_id')!r} has no fields {sorted(unknown)}; it has {sorted(inputs)}"
        )
    for cid, comp in inputs.items():
        _check_field(cid, comp, values.get(cid))

    def submitted(comp: JSON) -> JSON:
        value = values.get(comp["custom_id"])
        if comp["type"] == TEXT_INPUT:
            text = value if isinstance(value, str) else (comp.get("value") or "")
            return {"type": TEXT_INPUT, "id": comp.get("id", 0), "custom_id": comp["custom_id"], "value": text}
        chosen = [value] if isinstance(value, str) else list(value or [])
        return {"type": comp["type"], "id": comp.get("id", 0), "custom_id": comp["custom_id"], "values": chosen}

    out: list[JSON] = []
    for comp in modal.get("components") or []:
        if comp.get("type") == ACTION_ROW:
            kids = [submitted(c) for c in comp.get("components") or [] if c.get("custom_id") in inputs]
            out.append({"type": ACTION_ROW, "id": comp.get("id", 0), "components": kids})
        elif comp.get("type") == LABEL and comp.get("component", {}).get("custom_id") in inputs:
            out.append({"type": LABEL, "id": comp.get("id", 0), "component": submitted(comp["component"])})
    return out


def _check_field(cid: str, comp: JSON, value: str | Sequence[str] | None) -> None:
    if comp["type"] == TEXT_INPUT:
        text = value if isinstance(value, str) else (comp.get("value") or "")
        if value is not None and not isinstance(value, str):
            raise FakeUsageError(f"text input {cid!r} takes a string")
        if comp.get("required", True) and not text:
            raise FakeUsageError(f"modal field {cid!r} is required; Discord will not submit it empty")
        if text and not int(comp.get("min_length") or 0) <= len(text) <= int(comp.get("max_length") or 4000):
            raise FakeUsageError(
                f"modal field {cid!r} must be {comp.get('min_length') or 0}..{comp.get('max_length') or 4000} "
                f"characters, got {len(text)}"
            )
    else:
        chosen = [value] if isinstance(value, str) else list(value or [])
        if comp.get("required", True) and not chosen:
            raise FakeUsageError(f"modal select {cid!r} is required")
        check_select_values(comp, chosen)


def check_select_values(comp: JSON, values: Sequence[str]) -> None:
    """What a Discord client lets a user pick in a select menu."""
    lo, hi = int(comp.get("min_values", 1)), int(comp.get("max_values", 1))
    if not lo <= len(values) <= hi:
        raise FakeUsageError(f"select {comp.get('custom_id')!r} takes {lo}..{hi} values, got {len(values)}")
    if comp.get("type") == STRING_SELECT:
        allowed = [o["value"] for o in comp.get("options") or []]
        bad = [v for v in values if v not in allowed]
        if bad:
            raise FakeUsageError(f"select {comp.get('custom_id')!r} has no options {bad}; options: {allowed}")
