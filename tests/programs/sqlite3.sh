#!/usr/bin/env bash
# program_sqlite3: the sqlite3 command-line shell builds a database file --
# tens of thousands of rows inserted by a recursive query and thousands by
# single INSERT statements in a transaction, indexes, a full-text index,
# JSON, updates and deletes, VACUUM -- then queries it (grouping, joins,
# window functions, sorting more than the page cache holds) and dumps it.
# The output and the dump's checksum under libkmem_malloc.so must match
# those under glibc's malloc.
. "$(dirname "$0")/lib.sh"
kmem_init "$@"
kmem_need /usr/bin/sqlite3 sqlite3
kmem_need /usr/bin/sha256sum coreutils
kmem_install

# Thousands of single-row INSERT statements, made here so that both runs
# read the same file.
awk 'BEGIN {
	print "BEGIN;"
	x = 12345
	for (i = 1; i <= 20000; i++) {
		x = (x * 16807) % 2147483647
		printf "INSERT INTO orders(id, customer, amount, note) VALUES (%d, %d, %d.%02d, '\''order %d for customer %d: %s'\'');\n", \
			i, x % 997, x % 10000, x % 100, i, x % 997, substr("the quick brown fox jumps over the lazy dog again and again", 1 + x % 20, 10 + x % 30)
	}
	print "COMMIT;"
}' >"$KMEM_INPUT/orders.sql"

cat >"$KMEM_INPUT/build.sql" <<'EOF'
.bail on
PRAGMA page_size = 4096;
PRAGMA cache_size = -8000;
PRAGMA journal_mode = WAL;
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT, balance REAL);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INT REFERENCES customers(id), amount REAL, note TEXT);
CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT, payload TEXT, at INT);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 996)
INSERT INTO customers SELECT i, printf('customer-%04d', i),
	substr('AmsterdamBerlinCairoDelhiEssenFaro', 1 + (i * 7) % 25, 5 + i % 6), (i * 7919) % 100000 / 100.0 FROM n;
.read orders.sql
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150000)
INSERT INTO events SELECT i, 'kind' || (i % 13),
	json_object('i', i, 'sq', i * i, 'tags', json_array('t' || (i % 7), 't' || (i % 11)), 'text', hex(i * 2654435761)),
	1700000000 + i * 37 FROM n;
CREATE INDEX orders_customer ON orders(customer, amount);
CREATE INDEX events_kind ON events(kind, at);
CREATE VIRTUAL TABLE notes USING fts5(body);
INSERT INTO notes(rowid, body) SELECT id, note FROM orders;
UPDATE customers SET balance = balance + (SELECT coalesce(sum(amount), 0) FROM orders WHERE customer = customers.id);
DELETE FROM events WHERE id % 5 = 0;
UPDATE events SET payload = json_set(payload, '$.seen', 1) WHERE id % 3 = 0;
PRAGMA wal_checkpoint(TRUNCATE);
VACUUM;
EOF

cat >"$KMEM_INPUT/query.sql" <<'EOF'
.bail on
.mode list
.headers on
PRAGMA cache_size = -2000;
PRAGMA integrity_check;
SELECT count(*), sum(amount), min(note), max(note) FROM orders;
SELECT count(*), sum(json_extract(payload, '$.sq') % 1000), count(json_extract(payload, '$.seen')) FROM events;
SELECT kind, count(*) AS n, min(at), max(at), group_concat(id % 10, '') AS digits_head
	FROM (SELECT * FROM events ORDER BY id LIMIT 2000) GROUP BY kind ORDER BY kind;
SELECT c.city, count(o.id), round(sum(o.amount), 2), round(avg(c.balance), 4)
	FROM customers c JOIN orders o ON o.customer = c.id GROUP BY c.city ORDER BY c.city;
SELECT name, total, rank FROM (
	SELECT c.name, round(sum(o.amount), 2) AS total,
		rank() OVER (ORDER BY sum(o.amount) DESC, c.id) AS rank
	FROM customers c JOIN orders o ON o.customer = c.id GROUP BY c.id)
	WHERE rank <= 10;
SELECT id, customer, amount, sum(amount) OVER (PARTITION BY customer ORDER BY id) AS running
	FROM orders WHERE customer IN (1, 2, 3) ORDER BY customer, id;
SELECT rowid, highlight(notes, 0, '[', ']') FROM notes WHERE notes MATCH 'quick AND fox' ORDER BY rowid LIMIT 10;
SELECT count(*) FROM notes WHERE notes MATCH 'lazy OR dog';
SELECT sum(length(payload)), count(DISTINCT payload) FROM events;
SELECT payload FROM events ORDER BY payload DESC LIMIT 3;
SELECT e.kind, count(*) FROM events e JOIN events f ON f.id = e.id + 1 AND f.kind = e.kind GROUP BY e.kind ORDER BY e.kind;
EOF

# The build and the queries in one run (the query reads the file the
# build wrote), then the dump's checksum, which covers every row.
run_both "sqlite3: build, query and dump a database" bash -c '
	set -e
	cp "$KMEM_INPUT"/*.sql .
	sqlite3 -batch test.db <build.sql
	sqlite3 -batch test.db <query.sql
	sqlite3 -batch test.db .dump | sha256sum
	sqlite3 -batch test.db "SELECT count(*) FROM events" "SELECT sum(id) FROM orders"
'
kmem_done
