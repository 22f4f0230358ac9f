#!/usr/bin/env bash
# Re-create gateway/service/static/graphiql/ from the npm registry, at pinned versions.
#
# Why: the gateway serves GraphiQL itself (see gateway/service/graphiql.py) so the IDE
# works with no internet access and no CDN. This script is the record of how
# the vendored files were produced, and the way to upgrade them:
#   1. edit the pins (and their integrity hashes) below,
#   2. run:  bash scripts/fetch_graphiql.sh
#   3. check the page still works offline (headless browser, all requests to
#      the gateway's own origin), review the diff, commit.
#
# Only the npm registry is contacted, through `npm pack` (so the registry and
# auth configured for npm are used). Every tarball's integrity is checked
# against the pinned value before anything is copied. Nothing is installed
# into the repository: all work happens in a scratch directory under $TMPDIR.
#
# Why these versions: graphiql 3.x is the last major that ships a standalone
# UMD build (graphiql.min.js / graphiql.min.css) usable from plain <script>
# tags without a bundler; it needs React 18 UMD builds (React 19 no longer
# ships UMD). @graphiql/plugin-explorer 3.2.x is the explorer release whose
# peer dependency (@graphiql/react ^0.29) matches graphiql 3.9.x; its UMD
# build reads React from window.React and @graphiql/react + graphql from
# window.GraphiQL.React / window.GraphiQL.GraphQL, i.e. from graphiql's UMD.
# graphql-ws 6.x ships a UMD build (window.graphqlWs, no dependencies) and is the
# client the gateway's subscriptions are tested with (tests/clients, Apollo).
# graphiql.min.js inlines a copy of graphql-ws too, but only reachable through
# createGraphiQLFetcher's `subscriptionUrl`, which builds a client with the
# default options (it retries a refused key, close code 4403, five times with
# backoff); the page builds its own client from this file instead
# (gateway/service/graphiql.py).
#
# Usage: scripts/fetch_graphiql.sh [OUTPUT_DIR]   (default: gateway/service/static/graphiql)
set -euo pipefail

# ---- pins -------------------------------------------------------------------
GRAPHIQL_VERSION="3.9.0"
EXPLORER_VERSION="3.2.6"        # @graphiql/plugin-explorer
REACT_VERSION="18.3.1"          # react and react-dom
GRAPHIQL_EXPLORER_VERSION="0.9.0"  # bundled inside the explorer plugin's UMD; fetched for its LICENSE only
GRAPHQL_BUNDLED_VERSION="16.9.0"   # graphql-js inlined in graphiql.min.js (its `version` export); for the notices only
GRAPHQL_WS_VERSION="6.4.2"      # graphql-ws: the graphql-transport-ws client of the page's subscriptions

# sha512 integrity of each tarball, as published in the registry (npm view PKG@VER dist.integrity)
declare -A INTEGRITY=(
  ["graphiql@${GRAPHIQL_VERSION}"]="sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA=="
  ["@graphiql/plugin-explorer@${EXPLORER_VERSION}"]="sha512-MXzG/zVNzZfes4Em253bHyAbD/lwwAZkPKvxCAQkjz0i3dtcv4uF3D8iqJ7214iu3SCphbORYZZUC93fik1yew=="
  ["react@${REACT_VERSION}"]="sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ=="
  ["react-dom@${REACT_VERSION}"]="sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw=="
  ["graphiql-explorer@${GRAPHIQL_EXPLORER_VERSION}"]="sha512-fZC/wsuatqiQDO2otchxriFO0LaWIo/ovF/CQJ1yOudmY0P7pzDiP+l9CEHUiWbizk3e99x6DQG4XG1VxA+d6A=="
  ["graphql-ws@${GRAPHQL_WS_VERSION}"]="sha512-wxhPhhOGJo8PbGDkBYVE76sZLDrS+GkyrR4bZECSLVbo0pZZNKs0HtBh2Ip/uaUuiVUxwO9ssI9R92buQfNSqQ=="
)

# ---- paths ------------------------------------------------------------------
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-${REPO_ROOT}/gateway/service/static/graphiql}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/fetch-graphiql.XXXXXX")"
trap 'rm -rf "${WORK}"' EXIT

command -v npm >/dev/null || { echo "npm is required" >&2; exit 1; }

# pack SPEC -> extracted package dir on stdout; verifies the pinned integrity
pack() {
  local spec="$1" expected="${INTEGRITY[$1]}"
  local dir="${WORK}/$(echo "${spec}" | tr '/@' '__')"
  mkdir -p "${dir}"
  local json
  json="$(cd "${dir}" && npm pack --json --silent "${spec}")"
  local file integrity
  file="$(node -e 'const j=JSON.parse(process.argv[1]);console.log(j[0].filename)' "${json}")"
  integrity="$(node -e 'const j=JSON.parse(process.argv[1]);console.log(j[0].integrity)' "${json}")"
  if [[ "${integrity}" != "${expected}" ]]; then
    echo "integrity mismatch for ${spec}: got ${integrity}, pinned ${expected}" >&2
    exit 1
  fi
  tar -xzf "${dir}/${file}" -C "${dir}"
  echo "${dir}/package"
}

GQ="$(pack "graphiql@${GRAPHIQL_VERSION}")"
EX="$(pack "@graphiql/plugin-explorer@${EXPLORER_VERSION}")"
RE="$(pack "react@${REACT_VERSION}")"
RD="$(pack "react-dom@${REACT_VERSION}")"
GE="$(pack "graphiql-explorer@${GRAPHIQL_EXPLORER_VERSION}")"
WS="$(pack "graphql-ws@${GRAPHQL_WS_VERSION}")"

# ---- copy (flat layout; names below are what gateway/service/graphiql.py loads) ------
case "$(cd "$(dirname "${OUT}")" && pwd)/$(basename "${OUT}")" in
  /|"${REPO_ROOT}"|"${HOME:-/nonexistent}") echo "refusing to replace ${OUT}" >&2; exit 1 ;;
esac
rm -rf "${OUT}"
mkdir -p "${OUT}/licenses"

# dest-name <- package-dir/source-path ; files are copied byte for byte
MAPPING=(
  "graphiql.min.js|${GQ}|graphiql.min.js|graphiql@${GRAPHIQL_VERSION}"
  "graphiql.min.css|${GQ}|graphiql.min.css|graphiql@${GRAPHIQL_VERSION}"
  "react.production.min.js|${RE}|umd/react.production.min.js|react@${REACT_VERSION}"
  "react-dom.production.min.js|${RD}|umd/react-dom.production.min.js|react-dom@${REACT_VERSION}"
  "plugin-explorer.umd.js|${EX}|dist/index.umd.js|@graphiql/plugin-explorer@${EXPLORER_VERSION}"
  "plugin-explorer.css|${EX}|dist/style.css|@graphiql/plugin-explorer@${EXPLORER_VERSION}"
  "graphql-ws.min.js|${WS}|umd/graphql-ws.min.js|graphql-ws@${GRAPHQL_WS_VERSION}"
)
for m in "${MAPPING[@]}"; do
  IFS='|' read -r dest dir src _ <<<"${m}"
  cp "${dir}/${src}" "${OUT}/${dest}"
done

cp "${GQ}/LICENSE" "${OUT}/licenses/graphiql.LICENSE"
cp "${RE}/LICENSE" "${OUT}/licenses/react.LICENSE"
cp "${RD}/LICENSE" "${OUT}/licenses/react-dom.LICENSE"
cp "${GE}/LICENSE" "${OUT}/licenses/graphiql-explorer.LICENSE"
cp "${WS}/LICENSE.md" "${OUT}/licenses/graphql-ws.LICENSE"
# The @graphiql/plugin-explorer tarball has no LICENSE file; its package.json
# says MIT and it lives in the same monorepo (github.com/graphql/graphiql) as
# graphiql, whose LICENSE is that repository's license.
{
  echo "@graphiql/plugin-explorer@${EXPLORER_VERSION}: \"license\": \"MIT\" in its package.json."
  echo "Its npm tarball ships no LICENSE file. It is published from the same monorepo as"
  echo "graphiql (https://github.com/graphql/graphiql, packages/graphiql-plugin-explorer),"
  echo "whose MIT license text is reproduced below (also in graphiql.LICENSE)."
  echo
  cat "${GQ}/LICENSE"
} >"${OUT}/licenses/graphiql-plugin-explorer.LICENSE"

# The graphiql UMD bundle inlines its own dependencies (@graphiql/react,
# @graphiql/toolkit, codemirror 5, graphql-js, markdown-it, radix-ui, ...) and
# its minified output keeps no license comments. Collect the license texts of
# graphiql's production dependency tree (as npm resolves it for this pin) so
# the notices travel with the bundle. React/react-dom are shipped separately;
# graphql is a peer dependency, added at the version the bundle reports.
(
  cd "${WORK}"
  mkdir deps && cd deps
  npm init -y >/dev/null
  npm install --silent --no-audit --no-fund --ignore-scripts --legacy-peer-deps \
    --omit=dev "graphiql@${GRAPHIQL_VERSION}" "graphql@${GRAPHQL_BUNDLED_VERSION}" >/dev/null
)
node - "${WORK}/deps/node_modules" >"${OUT}/licenses/graphiql-bundled-dependencies.txt" <<'EOF'
const fs = require('fs'), path = require('path');
const root = process.argv[2];
const seen = [];
function walk(dir) {
  for (const name of fs.readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (name.startsWith('@')) { walk(p); continue; }
    const pj = path.join(p, 'package.json');
    if (fs.existsSync(pj)) seen.push(p);
    const nested = path.join(p, 'node_modules');
    if (fs.existsSync(nested)) walk(nested);
  }
}
walk(root);
const out = [
  'License texts of the packages in the production dependency tree of graphiql,',
  'whose code the graphiql UMD bundle (graphiql.min.js) inlines. Generated by',
  'scripts/fetch_graphiql.sh from the versions npm resolved for the pinned graphiql;',
  'the versions inlined at graphiql build time may differ slightly.',
  '',
];
for (const p of seen) {
  const pkg = JSON.parse(fs.readFileSync(path.join(p, 'package.json'), 'utf8'));
  if (pkg.name === 'graphiql' || pkg.name === 'react' || pkg.name === 'react-dom') continue;
  if (pkg.name.startsWith('@types/')) continue;  // type declarations only, nothing bundled
  const lic = typeof pkg.license === 'string' ? pkg.license : JSON.stringify(pkg.license || pkg.licenses || 'UNKNOWN');
  const files = fs.readdirSync(p).filter(f => /^(licen[cs]e|copying|notice)/i.test(f)).sort();
  out.push('='.repeat(78));
  out.push(`${pkg.name}@${pkg.version}  (${lic})`);
  out.push('='.repeat(78));
  if (files.length === 0) out.push('(no license file in the package; license field: ' + lic + ')');
  for (const f of files) out.push(fs.readFileSync(path.join(p, f), 'utf8').trimEnd());
  out.push('');
}
process.stdout.write(out.join('\n') + '\n');
EOF

# ---- VERSIONS.txt -------------------------------------------------------------
{
  echo "Vendored GraphiQL assets, served by the gateway at /graphiql-assets/ (gateway/service/graphiql.py)."
  echo "Produced by scripts/fetch_graphiql.sh from the npm registry; files are byte-for-byte copies."
  echo
  echo "Packages:"
  for spec in "graphiql@${GRAPHIQL_VERSION}" "@graphiql/plugin-explorer@${EXPLORER_VERSION}" \
              "react@${REACT_VERSION}" "react-dom@${REACT_VERSION}" \
              "graphiql-explorer@${GRAPHIQL_EXPLORER_VERSION}" "graphql-ws@${GRAPHQL_WS_VERSION}"; do
    echo "  ${spec}  ${INTEGRITY[${spec}]}"
  done
  echo "  (graphiql-explorer is inlined in plugin-explorer.umd.js; fetched for its LICENSE only)"
  echo
  echo "Files (sha256  file  <-  package:path):"
  for m in "${MAPPING[@]}"; do
    IFS='|' read -r dest _ src spec <<<"${m}"
    sum="$(sha256sum "${OUT}/${dest}" | cut -d' ' -f1)"
    echo "  ${sum}  ${dest}  <-  ${spec}:package/${src}"
  done
  echo
  echo "Notes:"
  echo "  - graphiql.min.css embeds its fonts (Roboto, Fira Code) as data: URIs; it has no"
  echo "    url(http...) nor @import, so the browser fetches no remote font."
  echo "  - graphiql.min.js ends with '//# sourceMappingURL=index.umd.js.map'; the map is not"
  echo "    vendored (4 MB). Browsers only request it when DevTools is open, from the same"
  echo "    origin (a harmless 404); normal page loads never fetch it."
  echo "  - graphql-ws.min.js (window.graphqlWs) is the page's subscription client"
  echo "    (graphql-transport-ws); it has no dependencies and loads nothing itself."
  echo "    graphiql.min.js inlines another copy of graphql-ws (an optional peer dependency of"
  echo "    @graphiql/toolkit, so not in graphiql-bundled-dependencies.txt), unused by the page;"
  echo "    licenses/graphql-ws.LICENSE (MIT, same author) covers both."
} >"${OUT}/VERSIONS.txt"

echo "wrote ${OUT}:"
(cd "${OUT}" && find . -type f | sort | xargs ls -l | awk '{print $5, $9}')
du -sh "${OUT}"
