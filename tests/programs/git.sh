#!/usr/bin/env bash
# program_git: git creates a repository and commits to it -- a few hundred
# files over 25 commits, two branches merged, a rename, a tag -- then
# repacks it with two threads of delta search, checks it with fsck, and
# walks it: log with commit and tree hashes, cat-file of trees and blobs,
# diff, blame, grep with two threads, an archive.  With the author,
# committer and dates fixed the hashes are deterministic, so the output
# under libkmem_malloc.so must match the output under glibc's malloc.
. "$(dirname "$0")/lib.sh"
kmem_init "$@"
kmem_need /usr/bin/git git
kmem_need /usr/bin/sha256sum coreutils
kmem_install

run_both "git: build a repository, repack, fsck and walk it" bash -c '
	set -e
	export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
	export GIT_AUTHOR_NAME="A U Thor" GIT_AUTHOR_EMAIL=author@example.com
	export GIT_COMMITTER_NAME="C O Mitter" GIT_COMMITTER_EMAIL=committer@example.com
	stamp() {
		export GIT_AUTHOR_DATE="@$((1700000000 + $1 * 3600)) +0000"
		export GIT_COMMITTER_DATE="@$((1700000000 + $1 * 3600 + 60)) +0000"
	}
	# write_tree ROUND: rewrite every fourth file; a file keeps four
	# lines in five from round to round, so that renames are found and
	# merges resolve.
	write_tree() {
		for d in $(seq -f "dir%02g" 0 16); do mkdir -p "$d"; done
		awk -v round="$1" "BEGIN {
			for (f = 0; f < 300; f++) {
				if ((f + round) % 4 != 0 && round > 0)
					continue
				file = sprintf(\"dir%02d/file%03d.txt\", f % 17, f)
				x = f * 7919 + 1
				for (l = 0; l < 40 + f % 60; l++) {
					x = (x * 16807) % 2147483647
					printf \"line %d of %s, round %d: %d %s\\n\", l, file, (l % 5 == 0 ? round : 0), x % 1000, (x % 3 ? \"alpha\" : \"beta gamma\") > file
				}
				close(file)
			}
		}"
	}
	git init -q -b main repo
	cd repo
	git config core.autocrlf false
	git config gc.auto 0
	for round in $(seq 0 19); do
		stamp "$round"
		write_tree "$round"
		git add -A
		git commit -q -m "round $round" -m "Rewrites a quarter of the files."
	done
	stamp 20
	git checkout -q -b topic HEAD~5
	write_tree 21
	git mv dir03 dir03-renamed
	git add -A
	git commit -q -m "topic: rewrite and rename"
	stamp 21
	write_tree 22
	git add -A
	git commit -q -m "topic: another round"
	git checkout -q main
	stamp 22
	git merge -q --no-ff -X theirs -m "merge topic" topic
	stamp 23
	git tag -a -m "version one" v1
	stamp 24
	git rm -q -r dir05
	git commit -q -m "remove dir05"

	echo "== log"
	git log --format="%H %T %P %s" --topo-order --all
	echo "== rev-list --objects"
	git rev-list --objects --all | sort | sha256sum
	echo "== trees"
	git cat-file -p HEAD^{tree}
	git ls-tree -r -l HEAD | sha256sum
	git cat-file -p v1
	git cat-file -p HEAD:dir01/file001.txt | sha256sum
	echo "== diff"
	git diff --stat HEAD~10 HEAD | tail -n 3
	git diff -M HEAD~10 HEAD | sha256sum
	git log -p --stat main | sha256sum
	echo "== blame"
	git blame -s --abbrev=12 dir00/file000.txt | sha256sum
	echo "== grep"
	git grep --threads=2 -c "round 1[0-9]" HEAD | sha256sum
	git grep --threads=2 -n "beta gamma" | wc -l
	echo "== repack"
	git repack -q -a -d -f --window=50 --depth=50 --threads=2
	git count-objects -v | grep -E "^(count|packs|in-pack)"
	git fsck --full --strict --no-progress 2>&1
	git rev-parse HEAD HEAD^{tree} v1
	echo "== archive"
	git archive --format=tar HEAD | sha256sum
	git archive --format=tar.gz -o ../head.tgz v1
	gzip -dc ../head.tgz | sha256sum
	echo "== gc"
	git gc -q --prune=now
	git fsck --full --no-progress 2>&1
	git log --format=%T | sha256sum
'
kmem_done
