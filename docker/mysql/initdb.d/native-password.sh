# Sourced (bash) by the image's entrypoint once, when it initialises an empty data volume, after it
# created MYSQL_DATABASE and MYSQL_USER (with every right on that database) from the compose file's
# environment and secrets; docker_process_sql, MYSQL_USER and MYSQL_PASSWORD are the entrypoint's.
# The same script for MySQL 8.4 (the `mysql` service's image) and Debian's MariaDB (docker/mariadb/,
# SERVING=local). Not executable: the official image sources it only then.
#
# ML Metadata's MySQL client authenticates with mysql_native_password only. MySQL 8.4 creates users
# with caching_sha2_password and has mysql_native_password disabled unless started with
# --mysql-native-password=ON (the service's command), so the user is switched to it here; MariaDB
# spells the same statement differently.
if docker_process_sql --skip-column-names -e 'SELECT VERSION()' | grep -q MariaDB; then
  docker_process_sql --database=mysql <<<"ALTER USER '$MYSQL_USER'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('$MYSQL_PASSWORD');"
else
  docker_process_sql --database=mysql <<<"ALTER USER '$MYSQL_USER'@'%' IDENTIFIED WITH mysql_native_password BY '$MYSQL_PASSWORD';"
fi
