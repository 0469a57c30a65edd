-- PostgreSQL answers the users list's contains filters with the trigram indexes of 0002;
-- this version exists so both dialects share one migration history.
SELECT 1;
