-- pipeline_runs of a database set up before runs recorded where they ran.
ALTER TABLE pipeline_runs ADD COLUMN pid INTEGER
