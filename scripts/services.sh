#!/usr/bin/env bash
# Install (if needed) and start PostgreSQL and Redis on loopback, idempotently.
# Usage: scripts/services.sh start|stop
set -euo pipefail
export PGDATA=${PGDATA:-/tmp/signalboard-pg}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
PGPORT=${PGPORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "$1 is missing and installing it needs root (apt-get)." >&2
        exit 1
    fi
}

start_postgres() {
    if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
        need_root PostgreSQL
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; then
        echo "PostgreSQL already answers on 127.0.0.1:$PGPORT"
    else
        if [ ! -f "$PGDATA/PG_VERSION" ]; then
            mkdir -p "$PGDATA" && chown postgres: "$PGDATA"
            runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres >/dev/null
        fi
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/log" \
            -o "-c listen_addresses=127.0.0.1 -p $PGPORT -c fsync=off -c synchronous_commit=off" -w start >/dev/null
        echo "PostgreSQL started on 127.0.0.1:$PGPORT ($PGDATA)"
    fi
    # The suite's own database; pytest-django creates test_signalboard from it.
    "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='signalboard'" \
        | grep -q 1 || "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres signalboard
}

start_redis() {
    if ! command -v redis-server >/dev/null; then
        need_root Redis
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    fi
    if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
        echo "Redis already answers on 127.0.0.1:$REDIS_PORT"
    else
        redis-server --daemonize yes --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null
        for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
        redis-cli -p "$REDIS_PORT" ping >/dev/null
        echo "Redis started on 127.0.0.1:$REDIS_PORT"
    fi
}

case "${1:-start}" in
    start) start_postgres; start_redis ;;
    stop)
        redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
        [ -n "$PGBIN" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true
        ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
