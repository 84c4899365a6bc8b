#!/usr/bin/env bash
# make run: migrate, load the demo, serve on HOST:PORT with the simulator inside.
set -euo pipefail
host=${1:-127.0.0.1}
port=${2:-8000}
export DEBUG=${DEBUG:-1}
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-localhost,127.0.0.1,[::1],$host}
export SIMULATE=${SIMULATE:-1}
py=.venv/bin/python
$py manage.py migrate --noinput -v 0
$py manage.py collectstatic --noinput -v 0
$py manage.py seed_demo
echo
echo "Signalboard on http://$host:$port/  (Ctrl-C stops it; the simulator runs inside)"
# uvicorn rather than daphne: a third of daphne's server CPU per live row in
# bench.live_latency, and it closes an oversized client frame with 1009.
# Its lifespan startup starts the simulator.
exec .venv/bin/uvicorn dashboard.asgi:application --host "$host" --port "$port" \
    --ws-max-size 4096 --ws-per-message-deflate false --no-access-log
