#!/usr/bin/env bash
# Build PostgreSQL's own regression database (src/test/regress, the schedule
# pg_regress runs) into an existing, empty database: ~600 tables and ~90
# column types nobody on this project designed. The source comes from
# Debian's source package of the server's own version, checked against the
# sha256 in Debian's signed Sources index, and is cached.
#   PGPASSWORD=… scripts/corpus/postgres-regression.sh postgres://user@host:port/db
# (the password comes from PGPASSWORD or ~/.pgpass, never from argv).
# Statements that need the C test library (regress.so) fail and are skipped,
# as are the tablespace test (needs a server-side directory) and tests that
# change the cluster (database and role settings of other databases).
set -euo pipefail
url=${1:?usage: postgres-regression.sh <database-url>}
cache=${TICKVAULT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tickvault}/postgres-regress
version=$(psql "$url" -XAtc 'SHOW server_version' | awk '{print $1}')
major=${version%%.*}
tarball="postgresql-${major}_${version}.orig.tar.bz2"
src="$cache/postgresql-$version/src/test/regress"
mkdir -p "$cache"
if [ ! -f "$src/parallel_schedule" ]; then
  sha=""
  for suite in debian/bookworm debian-security/bookworm-security; do
    archive=${suite%/*} dist=${suite#*/}
    index=$(curl -fsS "http://deb.debian.org/$archive/dists/$dist/main/source/Sources.xz" | xz -d)
    sha=$(awk -v f="$tarball" '$3 == f && length($1) == 64 {print $1; exit}' <<<"$index")
    dir=$(awk -v p="postgresql-$major" '$1 == "Package:" {pkg = $2} $1 == "Directory:" && pkg == p {print $2; exit}' <<<"$index")
    if [ -n "$sha" ]; then base="http://deb.debian.org/$archive/$dir"; break; fi
  done
  if [ -z "$sha" ]; then echo "postgres-regression: $tarball is not in Debian's Sources index; cannot check it" >&2; exit 2; fi
  curl -fsS -o "$cache/$tarball.part" "$base/$tarball"
  echo "$sha  $cache/$tarball.part" | sha256sum -c --quiet - || { rm -f "$cache/$tarball.part"; echo "postgres-regression: sha256 mismatch for $tarball" >&2; exit 3; }
  mv "$cache/$tarball.part" "$cache/$tarball"
  tar -xjf "$cache/$tarball" -C "$cache" "postgresql-$version/src/test/regress/sql" "postgresql-$version/src/test/regress/data" "postgresql-$version/src/test/regress/parallel_schedule"
fi
# The server reads the data files (COPY … FROM file): they must be world-readable.
chmod -R a+rX "$cache"
export PG_ABS_SRCDIR="$src" PG_ABS_BUILDDIR="$cache/build" PG_LIBDIR=/nonexistent PG_DLSUFFIX=.so
mkdir -p "$PG_ABS_BUILDDIR"
skip=" tablespace database "
ran=0
while read -r -a group; do
  for t in "${group[@]}"; do
    case "$skip" in *" $t "*) continue ;; esac
    psql "$url" -X -q -v ON_ERROR_STOP=0 -f "$src/sql/$t.sql" >/dev/null 2>&1 || true
    ran=$((ran + 1))
  done
done < <(sed -n 's/^test: *//p' "$src/parallel_schedule")
tables=$(psql "$url" -XAtc "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg\_%'")
echo "postgres-regression: PostgreSQL $version, $ran test files, $tables tables"
