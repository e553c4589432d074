#!/usr/bin/env bash
# Materialises the compatibility corpus listed in sources.tsv from local git
# mirrors instead of the network, into the layout fetch.sh writes
# (DIR/owner__name/<path with / as __>), verifying every file's SHA-256.
#   examples/compat/from-mirrors.sh MIRRORS DIR [sources.tsv]
# MIRRORS holds one git repository per source repository, named owner+name
# or owner__name (a bare clone, or a clone whose .git is found under it up to
# two levels down), e.g. made with
#   git clone --bare https://github.com/owner/name MIRRORS/owner+name
set -eu
mirrors=${1:?usage: from-mirrors.sh MIRRORS DIR [sources.tsv]}
dir=${2:?usage: from-mirrors.sh MIRRORS DIR [sources.tsv]}
list=${3:-$(dirname "$0")/sources.tsv}
mkdir -p "$dir"
ok=0 bad=0
gitdir() {
	local base d
	for base in "$mirrors/${1/\//+}" "$mirrors/${1/\//__}"; do
		[ -d "$base" ] || continue
		for d in "$base" "$base"/* "$base"/*/.git "$base"/.git; do
			if [ -d "$d" ] && git --git-dir="$d" rev-parse --git-dir >/dev/null 2>&1; then
				printf '%s' "$d"
				return 0
			fi
		done
	done
	return 1
}
while IFS=$'\t' read -r repo path commit sum; do
	case $repo in '#'*|'') continue ;; esac
	out="$dir/${repo/\//__}/${path//\//__}"
	mkdir -p "$(dirname "$out")"
	if g=$(gitdir "$repo"); then
		git --git-dir="$g" show "$commit:$path" >"$out" 2>/dev/null || rm -f "$out"
	fi
	if [ -s "$out" ] && echo "$sum  $out" | sha256sum -c --status; then
		ok=$((ok + 1))
	else
		echo "from-mirrors.sh: $repo $path @ $commit: not in $mirrors or changed" >&2
		rm -f "$out"
		bad=$((bad + 1))
	fi
done <"$list"
echo "$ok files materialised into $dir, $bad failed"
