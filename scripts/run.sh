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
# Daphne sends no lifespan event: the first request starts the simulator.
( for _ in $(seq 100); do
      sleep 0.2
      $py -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
          "http://$host:$port/accounts/login/" >/dev/null 2>&1 && break
  done ) &
exec .venv/bin/daphne -b "$host" -p "$port" \
    --websocket-max-message-size 4096 --websocket-max-frame-size 4096 \
    dashboard.asgi:application
