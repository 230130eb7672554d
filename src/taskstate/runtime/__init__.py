"""Inside the task process: load the DAG file, build the context, run the task.

The task process talks only to its supervisor, through :mod:`taskstate.contracts.frames`. It
holds no API token and no database URL, and imports no web framework and no ORM.
"""
