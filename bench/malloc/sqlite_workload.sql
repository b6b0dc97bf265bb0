-- sqlite_workload: a short real-program run for bench/malloc/run -- the
-- Debian sqlite3 shell loading, indexing, querying and rewriting an
-- in-memory database, which allocates its page cache, b-tree cursors,
-- sorter buffers and statement objects with malloc.  @ROWS@ is replaced
-- by the driver (the suite uses 300000).  The output must not depend on
-- the allocator.
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c TEXT);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < @ROWS@)
INSERT INTO t SELECT i, (i * 7919) % 100003,
	printf('name-%08d', (i * 104729) % @ROWS@), hex(i * i) FROM s;
CREATE INDEX t_a ON t(a);
CREATE INDEX t_b ON t(b);
SELECT count(*), sum(a) FROM t WHERE b >= 'name-0001' AND b < 'name-0002';
SELECT a % 100, count(*), max(length(c)) FROM t GROUP BY a % 100
	ORDER BY 2 DESC, 1 LIMIT 5;
UPDATE t SET c = c || b WHERE id % 3 = 0;
DELETE FROM t WHERE id % 2 = 0;
SELECT count(*), total(length(c)) FROM t;
SELECT b, c FROM t ORDER BY c DESC, b LIMIT 3;
SELECT count(DISTINCT substr(c, 1, 3)) FROM t;
