import GeniddGeneration
import GeniddSystem

/// `GET /`: a self-contained page for people. It shows the generation, `seq`,
/// source and staleness, the last changes with their times, and how many
/// subscribers, long-polls and watchers there are; it follows
/// `/v1/events` with `EventSource` (starting a new one 5 s after one was
/// refused, which `EventSource` never retries by itself) and re-reads
/// `/v1/status` every 2 s and after each event. Same origin, so it needs no
/// CORS, and its URLs are relative, so it works under a proxy's path prefix. With
/// `--read-token-file`, open it as `/#access_token=TOKEN` (the fragment
/// never reaches a server or its logs) and start genidd with
/// `--read-token-query`: the page passes the token on as `access_token`.
///
/// No build step and no external asset: one HTML document whose only script
/// and style are inline, allowed by their SHA-256 in a strict
/// `Content-Security-Policy` (no other script, style, image, frame or form;
/// connections to this origin only). A test recomputes the hashes.
enum StatusPage {
    static let style = #"""
        body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:46em;padding:0 1em;color:#1d232a}
        h1{font-size:1.3em;margin:0 0 .8em}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:.3em 1.2em;margin:0 0 1.5em}
        dt{color:#5c6670}dd{margin:0;font-variant-numeric:tabular-nums}
        #generation,#seq{font-size:1.6em;font-weight:600}
        table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
        th,td{text-align:left;padding:.25em .8em .25em 0;border-bottom:1px solid #dde2e6}
        .bad{color:#b3261e;font-weight:600}.good{color:#1e7b34}
        footer{margin-top:1.5em;color:#5c6670;font-size:.85em}
        """#

    static let script = #"""
        "use strict";
        const params = new URLSearchParams(location.hash.slice(1) || location.search.slice(1));
        const token = params.get("access_token");
        const url = (path) => token ? path + "?access_token=" + encodeURIComponent(token) : path;
        const $ = (id) => document.getElementById(id);
        const put = (id, text) => { $(id).textContent = String(text); };
        let changedAt = null;

        function age(iso) {
          const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
          if (seconds < 120) return seconds + " s ago";
          if (seconds < 7200) return Math.round(seconds / 60) + " min ago";
          return Math.round(seconds / 3600) + " h ago";
        }

        function showState(state, reason) {
          put("generation", state.generation);
          put("seq", state.seq);
          put("source", state.source);
          put("instance", state.instance);
          put("stale", state.stale ? "stale: " + (reason || "the source is failing") : "no, the source is healthy");
          $("stale").className = state.stale ? "bad" : "good";
          changedAt = state.changed_at;
          tick();
        }

        function showChanges(changes) {
          const rows = changes.map((change) => {
            const row = document.createElement("tr");
            const when = new Date(change.changed_at);
            for (const text of [change.seq, change.generation, when.toLocaleString(), age(change.changed_at)]) {
              const cell = document.createElement("td");
              cell.textContent = String(text);
              row.append(cell);
            }
            return row;
          });
          $("changes").replaceChildren(...rows);
        }

        function tick() {
          if (changedAt) put("changed", new Date(changedAt).toLocaleString() + " (" + age(changedAt) + ")");
        }

        async function refresh() {
          try {
            const response = await fetch(url("v1/status"), { cache: "no-store" });
            if (!response.ok) {
              const problem = await response.json().catch(() => ({}));
              put("problem", "GET v1/status: " + response.status + " " + (problem.detail || ""));
              return;
            }
            const status = await response.json();
            put("problem", "");
            showState(status.generation, status.stale_reason);
            showChanges(status.recent_changes);
            put("sse", status.subscribers.sse);
            put("longpoll", status.subscribers.longpoll);
            put("watchers", status.watchers.registered);
            put("outdated", status.watchers.outdated);
            put("connections", status.connections);
          } catch (error) {
            put("problem", "GET v1/status: " + error);
          }
        }

        function connect() {
          const events = new EventSource(url("v1/events"));
          events.addEventListener("generation", (event) => {
            showState(JSON.parse(event.data));
            put("last-event", event.lastEventId);
            refresh();
          });
          events.addEventListener("clock-disruption", (event) => {
            const disruption = JSON.parse(event.data);
            put("disruption", "marker " + disruption.disruption_marker + " at " + disruption.detected_at);
          });
          events.onopen = () => { put("stream", "live"); $("stream").className = "good"; };
          events.onerror = () => {
            $("stream").className = "bad";
            if (events.readyState !== EventSource.CLOSED) {
              put("stream", "reconnecting");
              return;
            }
            // Refused (a proxy's 502 while genidd restarts, a 401): EventSource
            // gives up for good, so the page starts a new one.
            put("stream", "closed, retrying in 5 s");
            setTimeout(connect, 5000);
          };
        }
        connect();
        refresh();
        setInterval(refresh, 2000);
        setInterval(tick, 1000);
        """#

    /// `sha256-…` sources for the CSP (base64 of the SHA-256 of `script` and
    /// `style`); `StatusPageTests` recomputes them and names the right ones.
    static let scriptHash = "sha256-FnyeZXhLXJo8VqfghktGc8haYNWyRAYIcRooMSZVefE="
    static let styleHash = "sha256-TgLBmTYjiibz1PTFD8hIT2pr0ogX03O0GJrFwpwCR44="

    static let contentSecurityPolicy =
        "default-src 'none'; script-src '\(scriptHash)'; style-src '\(styleHash)'; connect-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>genidd</title>
        <style>\(style)</style>
        </head>
        <body>
        <h1>genidd: VM generation</h1>
        <dl>
        <dt>Generation</dt><dd id="generation">…</dd>
        <dt>seq</dt><dd id="seq">…</dd>
        <dt>Changed</dt><dd id="changed">…</dd>
        <dt>Source</dt><dd id="source">…</dd>
        <dt>Stale</dt><dd id="stale">…</dd>
        <dt>Instance</dt><dd id="instance">…</dd>
        <dt>Event stream</dt><dd id="stream">connecting</dd>
        <dt>Last event id</dt><dd id="last-event">none yet</dd>
        <dt>SSE subscribers</dt><dd id="sse">…</dd>
        <dt>Long-polls</dt><dd id="longpoll">…</dd>
        <dt>Watchers</dt><dd><span id="watchers">…</span> registered, <span id="outdated">…</span> outdated</dd>
        <dt>Connections</dt><dd id="connections">…</dd>
        <dt>Clock disruption</dt><dd id="disruption">none seen</dd>
        </dl>
        <p id="problem" class="bad"></p>
        <h2>Last changes</h2>
        <table>
        <thead><tr><th>seq</th><th>generation</th><th>at</th><th>age</th></tr></thead>
        <tbody id="changes"></tbody>
        </table>
        <footer>Live from <code>/v1/events</code>; counts from <code>/v1/status</code> every 2 s.</footer>
        <script>\(script)</script>
        </body>
        </html>

        """

    /// The page, shared by every request.
    static let response = HTTPResponse(
        body: Array(html.utf8),
        headers: [
            ("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
            ("Content-Security-Policy", contentSecurityPolicy), ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
        ])
}
