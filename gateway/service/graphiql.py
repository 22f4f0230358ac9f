"""GraphiQL served entirely by the gateway, with no CDN.

Why: operators run the gateway on networks without internet access, and a
security product should not make its users' browsers load code from third-party
CDNs. So the GraphiQL IDE (a pinned release from the npm registry, vendored in
``gateway/service/static/graphiql/`` by ``scripts/fetch_graphiql.sh``) is served from the
gateway's own origin, and the page it renders loads nothing else. Queries and
mutations go over HTTP POST; subscriptions over a WebSocket to the same origin
(graphql-transport-ws, through the vendored ``graphql-ws`` client).

This module depends only on the standard library and aiohttp on purpose: the
HTTP layer can mount it without pulling in the schema or the REST layer.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

__all__ = [
    "ASSET_PREFIX",
    "STATIC_DIR",
    "DEFAULT_HEADERS",
    "add_graphiql_assets",
    "assets_version",
    "headers_text",
    "render_graphiql_page",
]

#: URL prefix under which the vendored GraphiQL files are served.
ASSET_PREFIX = "/graphiql-assets"

#: Folder holding the vendored release (see its VERSIONS.txt).
STATIC_DIR = Path(__file__).resolve().parent / "static" / "graphiql"

#: Pre-filled content of the headers editor: shows users where the API key goes,
#: so it travels in a header and never in the URL.
DEFAULT_HEADERS = '{\n  "Authorization": "Bearer <paste your API key here>"\n}'


def headers_text(headers: Mapping[str, str] | None) -> str:
    """The headers editor's initial text: ``headers`` as indented JSON, or the placeholder."""
    if not headers:
        return DEFAULT_HEADERS
    return json.dumps(dict(headers), indent=2, ensure_ascii=False)

# One year: asset URLs carry ?v=<assets_version()>, so an upgrade changes the URL.
_IMMUTABLE = "public, max-age=31536000, immutable"

_assets_version_cache: str | None = None


def assets_version() -> str:
    """Short hash of ``VERSIONS.txt`` (which lists every vendored file's sha256).

    Why: it is appended to asset URLs as ``?v=...`` so browsers may cache the
    files for a year yet fetch new ones as soon as the vendored release changes.
    """
    global _assets_version_cache
    if _assets_version_cache is None:
        try:
            data = (STATIC_DIR / "VERSIONS.txt").read_bytes()
        except OSError:
            data = b""
        _assets_version_cache = hashlib.sha256(data).hexdigest()[:12]
    return _assets_version_cache


def _js_literal(value: object) -> str:
    """JSON-encode ``value`` so it is safe inside an inline ``<script>`` element.

    Why: a default query (or path) containing ``</script>`` or ``<!--`` must not
    end or alter the script element; escaping ``<``, ``>`` and ``&`` as ``\\uXXXX``
    keeps the JSON valid JavaScript with the same value. U+2028/U+2029 are escaped
    too, for older JS engines.
    """
    text = json.dumps(value, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def render_graphiql_page(
    *,
    graphql_path: str = "/graphql",
    default_query: str,
    asset_prefix: str = ASSET_PREFIX,
    headers: Mapping[str, str] | None = None,
) -> str:
    """Return the full HTML page of the GraphiQL IDE.

    The page loads only the vendored files under ``asset_prefix`` (same origin).
    Queries and mutations go to ``graphql_path`` on the page's own origin over
    HTTP POST; subscriptions over a WebSocket to the same path, with the vendored
    graphql-ws client (graphql-transport-ws), whose ``connection_init`` payload is
    the headers editor's content (the server reads ``Authorization`` and
    ``X-Workspace-ID`` from it). One client per distinct set of headers, lazy (the
    socket opens with the first subscription and closes after the last) and never
    retrying: a refused key (4403) or a server going away (1001) shows in the
    result pane at once instead of after graphql-ws's default five retries.

    The headers editor is open and pre-filled with ``headers`` (``serve --demo``
    passes the demo key, so the schema, docs and autocompletion load at once) or,
    by default, an ``Authorization: Bearer`` placeholder, so the API key is sent as
    a header and never appears in a URL. ``shouldPersistHeaders: false`` plus a
    ``storage`` wrapper (GraphiQL 3's query history would otherwise save each
    run's headers) keep the key out of the browser's localStorage. The explorer
    plugin is enabled.

    A Content-Security-Policy ``<meta>`` (``default-src 'self'``, the inline
    script allowed by its hash) makes the browser refuse any other origin, so
    the page keeps working, and leaks nothing, without internet access.
    """
    prefix = asset_prefix.rstrip("/")
    version = assets_version()

    def asset(name: str) -> str:
        return html.escape(f"{prefix}/{name}?v={version}", quote=True)

    script = f"""
(function () {{
  // GraphiQL 3.x strips headers from its tab state when shouldPersistHeaders
  // is false, but its history/favorites store still saves each run's headers
  // (and so the API key) in localStorage. This Storage wrapper drops them.
  var NS = 'graphiql:';
  function scrub(key, value) {{
    if (key === NS + 'headers') return null;
    if (key !== NS + 'queries' && key !== NS + 'favorites' && key !== NS + 'tabState') return value;
    try {{
      var keep = key === NS + 'tabState' ? null : undefined;
      return JSON.stringify(JSON.parse(value), function (k, v) {{
        return k === 'headers' ? keep : v;
      }});
    }} catch (e) {{
      return null;
    }}
  }}
  function ours(k) {{ return k.indexOf(NS) === 0; }}
  var storage = {{
    getItem: function (key) {{ return localStorage.getItem(key); }},
    setItem: function (key, value) {{
      var clean = scrub(key, value);
      if (clean === null) localStorage.removeItem(key); else localStorage.setItem(key, clean);
    }},
    removeItem: function (key) {{ localStorage.removeItem(key); }},
    clear: function () {{
      Object.keys(localStorage).filter(ours).forEach(function (k) {{
        localStorage.removeItem(k);
      }});
    }},
    get length() {{
      return Object.keys(localStorage).filter(ours).length;
    }}
  }};
  ['headers', 'queries', 'favorites', 'tabState'].forEach(function (name) {{
    var stored = localStorage.getItem(NS + name);
    if (stored !== null) storage.setItem(NS + name, stored);
  }});

  var graphqlUrl = new URL({_js_literal(graphql_path)}, location.origin);
  var httpFetcher = GraphiQL.createFetcher({{ url: graphqlUrl.href }});
  var socketUrl = new URL(graphqlUrl.href);
  socketUrl.protocol = graphqlUrl.protocol === 'https:' ? 'wss:' : 'ws:';

  // Subscriptions: graphql-transport-ws through graphql-ws (window.graphqlWs). The key
  // travels in connection_init, as the headers editor has it; one client per set of
  // headers, so editing them takes effect on the next run.
  var socketClients = {{}};
  function socketClient(headers) {{
    var params = headers || {{}};
    var id = JSON.stringify(params);
    if (!socketClients[id]) {{
      socketClients[id] = graphqlWs.createClient({{
        url: socketUrl.href,
        connectionParams: params,
        lazy: true,
        retryAttempts: 0
      }});
    }}
    return socketClients[id];
  }}
  function isSubscription(params, opts) {{
    var doc = opts && opts.documentAST;
    if (!doc || !doc.definitions) return false;
    var ops = doc.definitions.filter(function (d) {{ return d.kind === 'OperationDefinition'; }});
    var name = params.operationName;
    var op = name ? ops.filter(function (d) {{ return d.name && d.name.value === name; }})[0]
                  : (ops.length === 1 ? ops[0] : null);
    return !!op && op.operation === 'subscription';
  }}
  // What GraphiQL shows when a subscription ends in error: GraphQL-shaped errors, no stack.
  var CLOSE_HINTS = {{
    4403: 'the key in the Authorization header (or the X-Workspace-ID) was refused',
    1001: 'the gateway is restarting or shutting down; run the subscription again',
    1006: 'the connection was lost or could not be opened'
  }};
  function socketError(err) {{
    if (Array.isArray(err)) return err;  // the server's `error` message: GraphQL errors
    if (err && typeof err.code === 'number' && 'reason' in err) {{  // a CloseEvent
      var text = 'WebSocket closed with ' + err.code + (err.reason ? ' ' + err.reason : '');
      var hint = CLOSE_HINTS[err.code];
      return [{{ message: hint ? text + ': ' + hint : text }}];
    }}
    var message = (err && err.message) || 'WebSocket error: could not reach ' + socketUrl.href;
    return [{{ message: message }}];
  }}
  function subscribe(params, headers) {{
    return {{
      subscribe: function (sink) {{
        var request = {{ query: params.query, variables: params.variables,
                         operationName: params.operationName || undefined }};
        var stop = socketClient(headers).subscribe(request, {{
          next: function (value) {{ sink.next(value); }},
          error: function (err) {{ sink.error(socketError(err)); }},
          complete: function () {{ sink.complete(); }}
        }});
        return {{ unsubscribe: stop }};
      }}
    }};
  }}
  var fetcher = function (params, opts) {{
    if (isSubscription(params, opts)) return subscribe(params, opts && opts.headers);
    return httpFetcher(params, opts);
  }};
  var explorer = GraphiQLPluginExplorer.explorerPlugin();
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, {{
    fetcher: fetcher,
    defaultQuery: {_js_literal(default_query)},
    defaultHeaders: {_js_literal(headers_text(headers))},
    defaultEditorToolsVisibility: 'headers',
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    storage: storage,
    plugins: [explorer]
  }}));
}})();
"""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (
        "default-src 'self'; "
        f"script-src 'self' 'sha256-{digest}'; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "font-src 'self' data:; "
        "connect-src 'self'; "
        "object-src 'none'; "
        "base-uri 'none'; "
        "form-action 'self'"
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{html.escape(csp, quote=True)}">
<meta name="referrer" content="no-referrer">
<title>Seliq GraphQL</title>
<link rel="stylesheet" href="{asset("graphiql.min.css")}">
<link rel="stylesheet" href="{asset("plugin-explorer.css")}">
<style>html, body {{ height: 100%; margin: 0; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL&hellip;</div>
<script src="{asset("react.production.min.js")}"></script>
<script src="{asset("react-dom.production.min.js")}"></script>
<script src="{asset("graphiql.min.js")}"></script>
<script src="{asset("plugin-explorer.umd.js")}"></script>
<script src="{asset("graphql-ws.min.js")}"></script>
<script>{script}</script>
</body>
</html>
"""


async def _cache_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Set Cache-Control on GraphiQL assets.

    Why: the vendored files are ~1.6 MB; versioned URLs (``?v=`` matching the
    current release) are cached for a year, anything else is revalidated
    (aiohttp sends ETag/Last-Modified for static files).
    """
    if not request.path.startswith(ASSET_PREFIX + "/") or response.status >= 400:
        return
    if request.query.get("v") == assets_version():
        response.headers["Cache-Control"] = _IMMUTABLE
    else:
        response.headers["Cache-Control"] = "no-cache"


def add_graphiql_assets(app: web.Application) -> None:
    """Serve the vendored GraphiQL files at ``ASSET_PREFIX`` (GET and HEAD).

    Why: the page from :func:`render_graphiql_page` loads its scripts and styles
    from here, so GraphiQL needs nothing but the gateway itself. Directory
    listing is off; aiohttp's static route rejects paths outside the folder.
    Call before the application starts (it adds a route and a response signal).
    """
    app.router.add_static(
        ASSET_PREFIX,
        STATIC_DIR,
        name="graphiql-assets",
        show_index=False,
        follow_symlinks=False,
        append_version=False,
    )
    app.on_response_prepare.append(_cache_headers)
