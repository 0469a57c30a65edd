-- The id of the HTTP request that queued the job, for following a request into its jobs' logs.
ALTER TABLE jobs ADD COLUMN request_id TEXT;
