"""Prefect tasks: thin wrappers that add retries, logging and I/O around the pure core in
``daglig``. Retries go on I/O (database, SMTP), not on pure compute."""
