#!/usr/bin/env bash
# Checks that every .cc/.h line changed since the commit named in .ci/format-base is formatted as
# .clang-format says (clang-format 14, `git clang-format`). Older lines are left as they are; a
# change that touches them formats them. Run by .ci/run; to fix: git clang-format "$(cat
# .ci/format-base)".
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
base=$(tr -d ' \n' < .ci/format-base)
if ! git cat-file -e "${base}^{commit}" 2>/dev/null; then
  echo "check_format_changes: base commit ${base} is not in this clone (a shallow clone?)" >&2
  exit 2
fi
if ! command -v git-clang-format >/dev/null 2>&1; then
  echo "check_format_changes: git-clang-format not found (apt-get install clang-format)" >&2
  exit 2
fi
version=$(clang-format --version)
if [[ ! "$version" =~ version\ 14\. ]]; then
  echo "check_format_changes: need clang-format 14, found: $version" >&2
  exit 2
fi
out=$(git clang-format --diff --extensions cc,h "$base" 2>&1) || true
case "$out" in
  "no modified files to format"* | "clang-format did not modify any files"*)
    echo "format: every line changed since ${base:0:10} is clang-formatted"
    ;;
  *)
    printf '%s\n' "$out"
    echo "check_format_changes: the lines above, changed since ${base:0:10}, are not" \
      "clang-formatted (fix: git clang-format ${base:0:10})" >&2
    exit 1
    ;;
esac
