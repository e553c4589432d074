#!/usr/bin/env bash
# Downloads the compatibility corpus listed in sources.tsv (repository,
# path, commit, sha256) into DIR/owner__name/<path with / as __>, the layout
# run.sh counts repositories by, and verifies every file's SHA-256.
#   examples/compat/fetch.sh DIR [sources.tsv]
# Needs curl and network access to GitHub; not run in CI. Without network,
# from-mirrors.sh writes the same directory from local git clones.
set -eu
dir=${1:?usage: fetch.sh DIR [sources.tsv]}
list=${2:-$(dirname "$0")/sources.tsv}
mkdir -p "$dir"
ok=0 bad=0
urlpath() { local s=$1; s=${s//%/%25}; s=${s// /%20}; s=${s//#/%23}; s=${s//\?/%3F}; printf '%s' "$s"; }
while IFS=$'\t' read -r repo path commit sum; do
	case $repo in '#'*|'') continue ;; esac
	out="$dir/${repo/\//__}/${path//\//__}"
	mkdir -p "$(dirname "$out")"
	if [ ! -s "$out" ] || ! echo "$sum  $out" | sha256sum -c --status; then
		curl -fsSL --retry 2 -o "$out" "https://raw.githubusercontent.com/$repo/$commit/$(urlpath "$path")" || true
	fi
	if [ -s "$out" ] && echo "$sum  $out" | sha256sum -c --status; then
		ok=$((ok + 1))
	else
		echo "fetch.sh: $repo $path @ $commit: missing or changed" >&2
		rm -f "$out"
		bad=$((bad + 1))
	fi
done < "$list"
echo "$ok files fetched into $dir, $bad failed"
