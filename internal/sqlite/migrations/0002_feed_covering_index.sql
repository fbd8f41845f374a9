-- A feed page read its 20 rows from 20 table pages: rows are stored in the
-- order they were written, across all sessions, so one session's rows lie
-- far apart, and each page not in the connection's cache is a read(2) from
-- the file. This index holds the rendered entry next to the keys a page is
-- ordered by, so a page is a short walk over a few neighbouring index pages
-- whatever the table's size. It costs a second copy of each entry (entries
-- too long for an index cell spill to overflow pages, as in the table).
-- It has the old index's columns as its prefix, so it replaces it.
CREATE INDEX activities_feed ON activities (session_pk, created_at, seq, entry);
DROP INDEX activities_session_created;
