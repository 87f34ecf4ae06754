# Sourced by scripts/demo and scripts/test: a virtual environment in .venv with the project installed.
ensure_venv() {
  local spec="$1" python
  if [ ! -x .venv/bin/python ]; then
    python="$(command -v python3.11 || command -v python3)"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
      echo "Huiyuan needs Python 3.11 or newer; found $("$python" --version)." >&2
      exit 1
    }
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
}
