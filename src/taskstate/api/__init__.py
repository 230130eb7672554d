"""The API server: ``execution`` routes for supervisors, ``public`` routes for people and tools.

Only this layer touches the database. Import the app from :mod:`taskstate.api.app`; this package
itself stays empty, so that importing a submodule loads only what that submodule needs.
"""
