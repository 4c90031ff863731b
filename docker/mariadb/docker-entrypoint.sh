#!/bin/bash
# The official mysql image's start-up contract, for Debian's MariaDB (docker/mariadb/Dockerfile):
#   MYSQL_ROOT_PASSWORD[_FILE]              root's password (required for a new data folder)
#   MYSQL_DATABASE, MYSQL_USER,             a database, and a user with every right on it
#   MYSQL_PASSWORD[_FILE]
#   /docker-entrypoint-initdb.d/*.sh|*.sql  run once, on a new data folder, against a server that
#                                           listens on its socket only (*.sh are sourced and get
#                                           docker_process_sql, as the official image's do)
# Arguments that start with '-' are mariadbd's; MySQL 8.4's --mysql-native-password=ON is dropped,
# since MariaDB always has that plugin (and would refuse the unknown option).
set -eo pipefail
shopt -s nullglob

if [ "${1:0:1}" = - ]; then set -- mariadbd "$@"; fi
if [ "$1" != mariadbd ] && [ "$1" != mysqld ]; then exec "$@"; fi
arguments=()
for argument in "$@"; do
  case $argument in --mysql-native-password=* | --mysql_native_password=*) ;; *) arguments+=("$argument") ;; esac
done
set -- "${arguments[@]}"

note() { printf '%s [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }
fail() { note "ERROR: $*" >&2; exit 1; }

file_env() {  # file_env VAR: VAR from the file VAR_FILE names (a compose secret), exported
  local var=$1 file_var=${1}_FILE
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then fail "both $var and $file_var are set"; fi
  if [ -n "${!file_var:-}" ]; then export "$var"="$(<"${!file_var}")"; fi
  unset "$file_var"
}

# The secrets are read as root (they may be readable by their owner only), then the server runs as
# the mysql user.
file_env MYSQL_ROOT_PASSWORD
file_env MYSQL_PASSWORD
DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock
if [ "$(id -u)" = 0 ]; then
  chown mysql:mysql "$DATADIR" /run/mysqld
  exec setpriv --reuid=mysql --regid=mysql --init-groups "$BASH_SOURCE" "$@"
fi

_passfile() {  # the client's options file: root with its password, once it has one
  printf '[client]\nuser=root\n'
  [ "${1:-}" = --no-password ] || printf 'password="%s"\n' "$MYSQL_ROOT_PASSWORD"
}

# docker_process_sql [--dont-use-mysql-root-password] [client arguments] < statements
docker_process_sql() {
  local passfile=()
  if [ "${1:-}" = --dont-use-mysql-root-password ]; then passfile=(--no-password) && shift; fi
  if [ -n "${MYSQL_DATABASE:-}" ]; then set -- --database="$MYSQL_DATABASE" "$@"; fi
  mariadb --defaults-extra-file=<(_passfile "${passfile[@]}") --protocol=socket --socket="$SOCKET" "$@"
}

if [ ! -d "$DATADIR/mysql" ]; then
  [ -n "${MYSQL_ROOT_PASSWORD:-}" ] || fail "the data folder is empty and no MYSQL_ROOT_PASSWORD(_FILE) is set"
  note "Initialising the data folder"
  # Root as the official image leaves it: root@localhost and root@% with the password, no other
  # root and no anonymous user (mariadb-install-db makes passwordless ones for this host's names).
  mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=normal --skip-test-db \
    --skip-name-resolve >/dev/null
  note "Starting a temporary server on the socket only"
  "$@" --skip-networking --socket="$SOCKET" &
  temporary=$!
  for _ in $(seq 120); do
    mariadb-admin --socket="$SOCKET" --user=root ping >/dev/null 2>&1 && break
    kill -0 "$temporary" 2>/dev/null || fail "the temporary server exited"
    sleep 0.5
  done
  docker_process_sql --dont-use-mysql-root-password --database=mysql <<-EOSQL
	DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', 'root'@'${HOSTNAME}', ''@'localhost', ''@'${HOSTNAME}';
	ALTER USER 'root'@'localhost' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD}';
	CREATE USER 'root'@'%' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD}';
	GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
	FLUSH PRIVILEGES;
	EOSQL
  if [ -n "${MYSQL_DATABASE:-}" ]; then
    note "Creating database $MYSQL_DATABASE"
    docker_process_sql --database=mysql <<<"CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
  fi
  if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
    note "Creating user $MYSQL_USER"
    docker_process_sql --database=mysql <<<"CREATE USER '$MYSQL_USER'@'%' IDENTIFIED BY '$MYSQL_PASSWORD';"
    if [ -n "${MYSQL_DATABASE:-}" ]; then
      docker_process_sql --database=mysql <<<"GRANT ALL ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'%';"
    fi
  fi
  for file in /docker-entrypoint-initdb.d/*; do
    case $file in
      *.sh) note "Sourcing $file" && . "$file" ;;
      *.sql) note "Running $file" && docker_process_sql <"$file" ;;
      *) note "Ignoring $file" ;;
    esac
  done
  mariadb-admin --defaults-extra-file=<(_passfile) --socket="$SOCKET" shutdown
  wait "$temporary" || true
  note "Initialised; starting the server"
fi
exec "$@"
