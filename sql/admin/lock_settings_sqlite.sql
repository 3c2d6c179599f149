-- Take SQLite's write lock at the start of an admin settings change, so the history's old
-- value is the value actually replaced (a second writer waits for the busy timeout).
BEGIN IMMEDIATE
