"""HTTP clients of the API server: ``taskstate.client.execution.ExecutionClient`` (supervisors,
the hot path, standard library only) and ``taskstate.client.public.PublicClient`` (the runner
and the CLI, on httpx). Import them from their modules, so a supervisor never loads httpx."""
