#!/bin/sh
# README main command: local Mosquitto + the daemon on the generated camera; readings printed
# as they arrive on MQTT; stops cleanly (about 30 s). Extra arguments go to `python -m plate_edge.demo`.
set -e
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
exec "$PY" -m plate_edge.demo "$@"
