#!/usr/bin/env bash
# Provision a local PostgreSQL for the nsflow sink tests, idempotently:
# install Debian's postgresql package if the server is missing, start the
# cluster, create role and database nsflow/nsflow (password nsflow), and print
# the connection URL on the last line:
#
#   export NSFLOW_TEST_POSTGRES_URL="$(.ci/postgres.sh | tail -n1)"
#   go test -race ./pkg/sink/...
#
# Needs root (apt-get, pg_ctlcluster, su postgres). Safe to run repeatedly.
set -euo pipefail

PGUSER_NAME=nsflow
PGPASSWORD_VALUE=nsflow
PGDATABASE_NAME=nsflow
PGPORT=5432

log() { echo "postgres.sh: $*" >&2; }

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
	log "installing PostgreSQL from Debian packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y postgresql >&2
fi

# The newest installed major version and its first cluster (create one if none).
version=$(ls /usr/lib/postgresql | sort -V | tail -n1)
cluster=$(pg_lsclusters -h 2>/dev/null | awk -v v="$version" '$1 == v {print $2; exit}')
if [ -z "$cluster" ]; then
	log "creating cluster $version/main"
	pg_createcluster "$version" main --port "$PGPORT" >&2
	cluster=main
fi
port=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $3}')

status=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $4}')
if [ "$status" != "online" ]; then
	log "starting cluster $version/$cluster on port $port"
	pg_ctlcluster "$version" "$cluster" start >&2
fi

# Wait until the server accepts connections.
for _ in $(seq 1 60); do
	if su postgres -c "psql -p $port -qAtc 'SELECT 1'" >/dev/null 2>&1; then
		break
	fi
	sleep 0.5
done
su postgres -c "psql -p $port -qAtc 'SELECT 1'" >/dev/null

psql_admin() { su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -qAt $*"; }

if [ "$(psql_admin "-c \"SELECT 1 FROM pg_roles WHERE rolname = '$PGUSER_NAME'\"")" != "1" ]; then
	log "creating role $PGUSER_NAME"
	psql_admin "-c \"CREATE ROLE $PGUSER_NAME LOGIN PASSWORD '$PGPASSWORD_VALUE'\""
else
	psql_admin "-c \"ALTER ROLE $PGUSER_NAME LOGIN PASSWORD '$PGPASSWORD_VALUE'\""
fi
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE_NAME'\"")" != "1" ]; then
	log "creating database $PGDATABASE_NAME"
	psql_admin "-c \"CREATE DATABASE $PGDATABASE_NAME OWNER $PGUSER_NAME\""
fi

url="postgres://$PGUSER_NAME:$PGPASSWORD_VALUE@127.0.0.1:$port/$PGDATABASE_NAME?sslmode=disable"
# Check that password authentication over TCP works (pg_hba "host … scram-sha-256/md5").
if ! PGPASSWORD=$PGPASSWORD_VALUE psql "$url" -qAtc 'SELECT 1' >/dev/null 2>&1; then
	log "cannot log in over TCP as $PGUSER_NAME; check pg_hba.conf of $version/$cluster"
	exit 1
fi
echo "$url"
