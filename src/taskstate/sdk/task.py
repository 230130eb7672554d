"""``@task`` and the TaskFlow ``Task``, under the names this module has always offered.

The decorator lives in :mod:`taskstate.sdk.decorators`, the task classes in
:mod:`taskstate.sdk.taskflow`; see those for the details.
"""

from taskstate.sdk.decorators import TaskDecorator, task
from taskstate.sdk.taskflow import Task

__all__ = ["Task", "TaskDecorator", "task"]
