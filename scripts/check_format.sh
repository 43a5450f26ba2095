#!/usr/bin/env bash
# Checks that the tracked C++ files (.cc, .h: git ls-files) are formatted as .clang-format says,
# with clang-format 14 (Debian package clang-format, installed by scripts/setup.sh). It changes
# nothing: it prints every file that differs and exits 1 (0 when all are formatted).
#   bash scripts/check_format.sh [--diff] [files...]   (default: every tracked .cc and .h)
#   --diff   also print what clang-format would change in each offending file
# To fix a file: clang-format -i FILE (or git clang-format for the lines you changed).
# Environment: CLANG_FORMAT (default clang-format) the program to run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

show_diff=0
if [[ "${1:-}" == "--diff" ]]; then
  show_diff=1
  shift
fi

clang_format=${CLANG_FORMAT:-clang-format}
if ! command -v "$clang_format" >/dev/null 2>&1; then
  echo "check_format: '$clang_format' not found (Debian: apt-get install clang-format, or" \
    "bash scripts/setup.sh)" >&2
  exit 2
fi
# Other major versions lay out some constructs differently: the tree is formatted with 14.
version=$("$clang_format" --version)
if [[ ! "$version" =~ version\ 14\. ]]; then
  echo "check_format: need clang-format 14, '$clang_format' is: $version" >&2
  exit 2
fi

if (($# > 0)); then
  files=("$@")
else
  mapfile -d '' files < <(git ls-files -z -- '*.cc' '*.h')
fi
if ((${#files[@]} == 0)); then
  echo "check_format: no files to check" >&2
  exit 2
fi

for f in "${files[@]}"; do
  [[ -f "$f" ]] || {
    echo "check_format: no file '$f'" >&2
    exit 2
  }
done
# A broken .clang-format would otherwise look like a formatting difference in every file.
if ! config_errors=$("$clang_format" --style=file --dump-config "${files[0]}" 2>&1 >/dev/null); then
  echo "check_format: clang-format cannot read the style (.clang-format):" >&2
  echo "$config_errors" >&2
  exit 2
fi

# One clang-format run per 50 files; a file that differs gives lines
#   FILE:LINE:COL: error: code should be clang-formatted [-Wclang-format-violations]
# followed by the source line and a caret. Any other diagnostic is reported as it is.
status=0
output=$(printf '%s\0' "${files[@]}" |
  xargs -0 -n 50 "$clang_format" --style=file --dry-run -Werror 2>&1) || status=$?
pattern='^(.*):[0-9]+:[0-9]+: error: code should be clang-formatted'
mapfile -t offenders < <(sed -nE "s/${pattern}.*/\1/p" <<<"$output" | sort -u)
others=$(grep -E '^[^ ].*:[0-9]+:[0-9]+: (error|warning|fatal error): ' <<<"$output" |
  grep -vE "$pattern" || true)
if [[ -n "$others" ]]; then
  echo "check_format: clang-format failed:" >&2
  echo "$others" >&2
  exit 2
fi
if ((${#offenders[@]} == 0)); then
  if ((status != 0)); then
    echo "check_format: clang-format exited with status $status:" >&2
    echo "$output" >&2
    exit 2
  fi
  echo "check_format: ${#files[@]} files formatted as .clang-format says"
  exit 0
fi

echo "check_format: ${#offenders[@]} of ${#files[@]} files are not clang-formatted:"
for f in "${offenders[@]}"; do
  echo "  $f"
  if ((show_diff)); then
    "$clang_format" --style=file "$f" | diff -u "$f" - | sed 's/^/    /' || true
  fi
done
echo "fix with: clang-format -i FILE..."
exit 1
