#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL 15 server: a new cluster in a temporary directory,
# on a free loopback port, stopped and removed when the command ends (also on failure or Ctrl-C).
# The command sees WEBHOOKD_TEST_PG_URL=postgresql://postgres@127.0.0.1:PORT/postgres, and, for
# tests that stop and start the server (store outages), WEBHOOKD_TEST_PG_DATA (the data directory)
# and WEBHOOKD_TEST_PG_CTL (the pg_ctl command, run as postgres when we are root):
#   $WEBHOOKD_TEST_PG_CTL -D "$WEBHOOKD_TEST_PG_DATA" -m fast -w stop
#   $WEBHOOKD_TEST_PG_CTL -D "$WEBHOOKD_TEST_PG_DATA" -w -l "$WEBHOOKD_TEST_PG_DATA/restart.log" start
#
#   scripts/with-postgres.sh ctest --test-dir build
set -euo pipefail

pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$pg_bin/initdb" ] || { echo "with-postgres: no PostgreSQL server binaries in $pg_bin" >&2; exit 2; }

# PostgreSQL refuses to run as root: run the server as the postgres user when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Below the kernel's ephemeral range: a test stops and restarts the server on the same port, and
# while it is down any outgoing connection (other tests run beside it) could be given that port
# as its local one, and the restart could not bind it.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$ephemeral_low" -gt 12000 ] 2>/dev/null || ephemeral_low=32768
port=""
for _ in $(seq 1 50); do
  candidate=$((10000 + RANDOM % (ephemeral_low - 10000)))
  if port_is_free "$candidate"; then port=$candidate; break; fi
done
[ -n "$port" ] || { echo "with-postgres: found no free port" >&2; exit 2; }

dir=$(mktemp -d /tmp/webhookd-pg.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"

stop() {
  as_pg "$pg_bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT INT TERM

as_pg "$pg_bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 2; }
# The settings live in postgresql.conf too, so a plain `pg_ctl start` brings the server back as it was.
cat >>"$dir/data/postgresql.conf" <<EOF
port = $port
unix_socket_directories = '$dir'
listen_addresses = '127.0.0.1'
max_connections = 200
fsync = on
EOF
as_pg "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on" start >/dev/null ||
  { cat "$dir/server.log" >&2; exit 2; }

export WEBHOOKD_TEST_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
export WEBHOOKD_TEST_PG_DATA="$dir/data"
if [ "$(id -u)" = 0 ]; then
  export WEBHOOKD_TEST_PG_CTL="runuser -u postgres -- $pg_bin/pg_ctl"
else
  export WEBHOOKD_TEST_PG_CTL="$pg_bin/pg_ctl"
fi
echo "with-postgres: PostgreSQL on 127.0.0.1:$port ($dir)"
set +e
"$@"
rc=$?
set -e
exit $rc
