"""Metrics, request ids and logs (SPEC §11), one module each:

- `context`: the current request id (a context variable) and what makes an incoming id sane;
- `logs`: the logging filter that puts that id on every record; key=value and JSON formatters;
- `middleware`: outermost in both stacks: takes or makes the id, echoes it, answers /metrics,
  times and counts the request and writes its one log line;
- `metrics`: every metric, and the hot path's cache counts copied into them;
- `exposition`: GET /metrics, its access rule, the text gathered from every process of the host;
- `processes`: prometheus-client's multiprocess mode: file names per process, wiping at start-up;
- `tasks`: the request id carried into Celery tasks (a message header).

Nothing here imports the apps: `authapi` calls the counting functions of `metrics`.
"""
