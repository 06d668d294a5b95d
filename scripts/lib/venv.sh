# Sourced by scripts/peers/*.sh: the Python test peers share one venv, .peers/venv (run
# from the project root). Creates it only when absent; `pip_peer MODULE SPEC` installs
# SPEC only when MODULE does not import yet.

VENV=.peers/venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi

# pip_peer MODULE PIP-SPEC
pip_peer() {
    if "$VENV/bin/python" -c "import $1" >/dev/null 2>&1; then
        echo "$2: already installed"
    else
        "$VENV/bin/pip" install --quiet "$2"
        "$VENV/bin/python" -c "import $1" && echo "$2: installed"
    fi
}
