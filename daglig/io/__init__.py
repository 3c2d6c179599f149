"""The I/O layer: the database (engine, reads, stores, locks, identity), files of a run,
the model store. It may import the pure core; the core never imports it (tests/test_layers.py)."""
