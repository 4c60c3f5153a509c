# Helpers shared by the layer scripts (sourced by build.sh).

# Prints each argument (a file) and the shared libraries it needs, resolved.
with_libs() {
  local f
  for f in "$@"; do
    echo "$f"
    ldd "$f" 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $3} $1 ~ /^\/lib64\// {print $1}'
  done | sort -u
}

# Copies host files into ROOT at the same paths (symlinks followed).
copy_files() {
  local root=$1 f
  shift
  for f in "$@"; do
    [ -e "$f" ] || { echo "missing $f on this machine" >&2; return 3; }
    mkdir -p "$root$(dirname "$f")"
    cp -L "$f" "$root$f"
  done
}
