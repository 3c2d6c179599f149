-- written_at as the timestamp an INSERT of the bind parameter would store (an aware
-- datetime converts in the session's time zone), for rows COPY writes as text.
SELECT CAST(:written_at AS TIMESTAMP)
