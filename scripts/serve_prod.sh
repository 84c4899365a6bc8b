#!/usr/bin/env bash
# make serve-prod: the scale path on one machine. PostgreSQL and Redis (started
# by scripts/services.sh), several uvicorn workers sharing them, DEBUG off.
# Each worker holds one Redis subscription and serves its own sockets.
set -euo pipefail
host=${1:-127.0.0.1}
port=${2:-8000}
workers=${WORKERS:-2}
py=.venv/bin/python
scripts/services.sh start
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/signalboard}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export DEBUG=0
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-localhost,127.0.0.1,$host}
if [ -z "${SECRET_KEY:-}" ]; then
    echo "SECRET_KEY is not set: using a random one (sessions end when the server stops)."
    SECRET_KEY=$($py -c 'import secrets; print(secrets.token_urlsafe(50))')
    export SECRET_KEY
fi
$py manage.py migrate --noinput -v 0
$py manage.py collectstatic --noinput -v 0
$py manage.py seed_demo
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
if [ "${SIMULATE:-1}" = 1 ]; then
    # With Redis the simulator runs as its own process; its events reach every worker.
    $py manage.py simulate --rate "${SIMULATE_RATE:-2}" &
    pids+=($!)
fi
echo
echo "Signalboard (production settings, $workers workers) on http://$host:$port/  (Ctrl-C stops it)"
SIMULATE=0 .venv/bin/uvicorn dashboard.asgi:application --host "$host" --port "$port" --workers "$workers" \
    --ws-max-size 4096 --ws-per-message-deflate false --no-access-log &
pids+=($!)
wait "${pids[-1]}"
