-- Take SQLite's write lock now, at the start of the day's transaction, not at its first
-- write: a second writer waits (busy timeout) instead of failing on a stale snapshot.
BEGIN IMMEDIATE
