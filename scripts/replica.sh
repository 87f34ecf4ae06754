#!/usr/bin/env bash
# A read-only streaming replica of the PostgreSQL cluster on 127.0.0.1:5432, on 127.0.0.1:5434: what CI reads
# analytics from (DATABASE_REPLICA_URL). It is a Debian cluster (postgresql-common) named "replica" whose data
# directory is a pg_basebackup of the primary, started in standby mode (hot_standby), so it replays everything the
# primary writes, test databases included, and refuses writes.
#
# Safe to run again: a replica that streams from this primary is kept; one that is stopped is started, and one
# that cannot catch up (the primary recycled the WAL it needs while it was down) or belongs to another primary is
# dropped and made again. Nothing is done to the primary but, when a replication connection from 127.0.0.1 is
# refused, a pg_hba.conf line allowing it (trust, as the primary's other local lines) and a reload.
#
# Run as root (pg_createcluster; the server itself runs as postgres). PRIMARY_PORT, REPLICA_PORT and
# REPLICA_CLUSTER change the defaults (5432, 5434, replica); 5433 is taken by the benchmarks' cluster elsewhere.
set -euo pipefail
primary_port="${PRIMARY_PORT:-5432}"
port="${REPLICA_PORT:-5434}"
name="${REPLICA_CLUSTER:-replica}"

on_primary() { psql -X -A -t -q -h 127.0.0.1 -p "$primary_port" -U postgres -d postgres -c "$1"; }
on_replica() { psql -X -A -t -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "$1" 2>/dev/null; }
cluster_line() { pg_lsclusters --no-header | awk -v v="$1" -v n="$2" '$1 == v && $2 == n'; }

read -r version _ < <(pg_lsclusters --no-header | awk -v p="$primary_port" '$3 == p {print $1, $2; exit}') || true
if [ -z "${version:-}" ]; then
  echo "No PostgreSQL cluster of this machine listens on port ${primary_port} (pg_lsclusters)." >&2
  exit 1
fi
primary_id=$(on_primary "SELECT system_identifier FROM pg_control_system()")

# Streaming from this primary: in recovery, the WAL receiver streaming, and the same system identifier.
streaming() {
  [ "$(on_replica "SELECT pg_is_in_recovery()")" = t ] &&
    [ "$(on_replica "SELECT status FROM pg_stat_wal_receiver")" = streaming ] &&
    [ "$(on_replica "SELECT system_identifier FROM pg_control_system()")" = "$primary_id" ]
}
wait_streaming() {
  for _ in $(seq "$1"); do
    streaming && return 0
    sleep 1
  done
  return 1
}

if [ -n "$(cluster_line "$version" "$name")" ]; then
  if [ -z "$(cluster_line "$version" "$name" | awk '$4 ~ /online/')" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start || true
  fi
  if wait_streaming 15; then
    echo "Replica ${version}/${name} on port ${port} streams from port ${primary_port} (kept)."
    exit 0
  fi
  echo "Replica ${version}/${name} does not stream from port ${primary_port}: making it again."
  pg_dropcluster --stop "$version" "$name"
fi

# The primary must accept a replication connection from 127.0.0.1 (the lines for "all" databases do not cover it).
replication_ok() {
  PGCONNECT_TIMEOUT=5 psql -X -w -q -d "host=127.0.0.1 port=${primary_port} user=postgres replication=true" \
    -c "IDENTIFY_SYSTEM" >/dev/null 2>&1
}
if ! replication_ok; then
  hba=$(on_primary "SHOW hba_file")
  # First: the first line that matches a connection decides (a default "host replication all ... scram" line too).
  sed -i "1i host replication postgres 127.0.0.1/32 trust  # scripts/replica.sh" "$hba"
  on_primary "SELECT pg_reload_conf()" >/dev/null
  sleep 1
  replication_ok || { echo "The primary refuses replication connections from 127.0.0.1: see ${hba}." >&2; exit 1; }
fi

# A Debian cluster (configuration in /etc/postgresql, log in /var/log/postgresql, pg_ctlcluster), whose freshly
# made data directory is replaced by the base backup. A hot standby needs these settings at least as high as the
# primary's: copy them.
pg_createcluster --port "$port" "$version" "$name" >/dev/null
data=$(cluster_line "$version" "$name" | awk '{print $6}')
conf="/etc/postgresql/${version}/${name}/conf.d/90-replica.conf"
{
  echo "# Made by scripts/replica.sh: a hot standby of 127.0.0.1:${primary_port}."
  echo "listen_addresses = '127.0.0.1'"
  echo "port = ${port}"
  echo "hot_standby = on"
  for setting in max_connections max_worker_processes max_prepared_transactions max_locks_per_transaction \
    max_wal_senders; do
    echo "${setting} = $(on_primary "SHOW ${setting}")"
  done
} >"$conf"
# Clients connect to it as to the primary.
install -o postgres -g postgres -m 640 "$(on_primary "SHOW hba_file")" "/etc/postgresql/${version}/${name}/pg_hba.conf"
rm -rf "$data"
install -d -o postgres -g postgres -m 700 "$data"
# -R: standby.signal and primary_conninfo; -X stream: the WAL written during the copy comes with it; -c fast: start
# at once instead of waiting for a spread checkpoint.
runuser -u postgres -- pg_basebackup -h 127.0.0.1 -p "$primary_port" -U postgres -D "$data" -R -X stream -c fast
pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start
for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p "$port" -q && break; sleep 1; done
if ! wait_streaming 30; then
  echo "The replica on port ${port} does not stream from port ${primary_port}:" >&2
  tail -n 20 "/var/log/postgresql/postgresql-${version}-${name}.log" >&2
  exit 1
fi
echo "Replica ${version}/${name} on port ${port} streams from port ${primary_port} (made)."
