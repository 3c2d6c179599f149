-- The identity row, unless one exists (a concurrent creator wins; both read the winner).
INSERT INTO pipeline_identity (slot, identity, created_at)
VALUES (1, :identity, :created_at)
ON CONFLICT (slot) DO NOTHING
