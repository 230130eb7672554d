"""Rendering an operator's templated fields (``template_fields``) with the task's context.

The task process calls :func:`render_template_fields` on the operator an instance runs, after
building its context and before ``execute``. Jinja rendering is not built here yet: the
function leaves the fields as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["render_template_fields"]


def render_template_fields(op: Any, context: Mapping[str, Any]) -> None:
    """Render ``op``'s templated fields in place with ``context``."""
    return None
