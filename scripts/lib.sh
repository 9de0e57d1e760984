# Shared helpers for Herald's scripts: logging and installing what is missing (only then).
# Sourced, not run.

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root for: $*" >&2; return 1; fi
}

APT_UPDATED=${APT_UPDATED:-}
apt_install() {
  # apt_install PKG...: installs the Debian packages that are not installed yet.
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  say "installing Debian packages: ${missing[*]}"
  if [[ -z $APT_UPDATED ]]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

cargo_install() {
  # cargo_install BIN CRATE VERSION: installs a pinned tool when BIN is missing or another version.
  local bin=$1 crate=$2 version=$3
  if command -v "$bin" >/dev/null && "$bin" --version 2>/dev/null | grep -q -- "$version"; then
    return 0
  fi
  say "installing $crate $version (cargo install, once)"
  cargo install "$crate" --version "$version"
}

# What building and running Herald needs on a Debian/Ubuntu machine with Rust.
ensure_build_deps() {
  apt_install build-essential pkg-config libpq-dev
}
