"""Reports: the service that queues them, the content they compute, the Markdown and HTML
renderings, and the worker that runs queued jobs."""
