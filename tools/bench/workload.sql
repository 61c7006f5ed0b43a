-- SPDX-License-Identifier: GPL-2.0
-- sqlite3 workload for `make bench` (tools/bench/run.sh): run as
--   sqlite3 :memory: < workload.sql
-- An in-memory database, so every page and every row buffer comes from
-- malloc: bulk inserts in one transaction, an index build, then queries
-- (aggregate, join, sort, LIKE scan) and an update/delete pass.
PRAGMA cache_size = -65536;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, name TEXT, body TEXT);
CREATE TABLE u(k INTEGER PRIMARY KEY, label TEXT);
BEGIN;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100000)
INSERT INTO t(k, name, body)
	SELECT (i * 7919) % 10007, 'name' || (i * 31 % 99991),
	       substr(hex(randomblob(48)), 1, 16 + i % 80) FROM c;
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 10006)
INSERT INTO u SELECT i, 'label' || i FROM c;
COMMIT;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(length(body)) FROM t;
SELECT k, count(*) AS n FROM t GROUP BY k ORDER BY n DESC, k LIMIT 3;
SELECT u.label, count(*) FROM t JOIN u ON t.k = u.k WHERE t.k < 500
	GROUP BY u.label ORDER BY 2 DESC LIMIT 3;
SELECT count(*) FROM t WHERE name LIKE 'name12%';
SELECT name FROM t ORDER BY body LIMIT 1 OFFSET 1000;
UPDATE t SET body = body || 'x' WHERE k % 3 = 0;
DELETE FROM t WHERE k % 5 = 0;
SELECT count(*) FROM t;
