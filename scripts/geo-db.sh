#!/usr/bin/env bash
# Prints the path of a real country database in the MaxMind DB format, downloading it once:
# ip-location-db's geo-whois-asn-country (CC0-1.0, IPv4 and IPv6), pinned to one version
# and checked against its SHA-256, from the npm registry where its authors publish it.
# Used by scripts/test.sh (the enrichment tests) and scripts/bench.sh (the enrichment row).
set -euo pipefail
version=2.3.2026061719
sha256=91757a1b06cdcd1955f292e4c4cfc54e091204f998e159a3187f7a2ef3724be0
url="https://registry.npmjs.org/@ip-location-db/geo-whois-asn-country-mmdb/-/geo-whois-asn-country-mmdb-$version.tgz"
dir="${FLOWLAKE_GEO_DIR:-/var/tmp/flowlake-geo}/$version"
db="$dir/package/geo-whois-asn-country.mmdb"
if [ ! -f "$db" ]; then
  echo "scripts/geo-db.sh: downloading ip-location-db's country database $version" >&2
  mkdir -p "$dir"
  tgz="$dir/db.tgz"
  python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "$url" "$tgz.part"
  echo "$sha256  $tgz.part" | sha256sum --check --quiet
  mv "$tgz.part" "$tgz"
  tar xzf "$tgz" -C "$dir"
fi
echo "$db"
