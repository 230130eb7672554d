"""The wire contracts: what crosses a process boundary, shared by both sides of it.

:mod:`~taskstate.contracts.frames` are the frames between a task process and its supervisor,
:mod:`~taskstate.contracts.http` the bodies of the execution API, :mod:`~taskstate.contracts.types`
the task-instance, asset and run types both carry, and :mod:`~taskstate.contracts.scopes` the
scope a state operation names. This package sits below ``runtime``, ``supervisor``, ``client``
and ``api``, and imports nothing of taskstate but ``errors`` and ``state``; it needs neither
FastAPI nor an ORM.
"""
