"""The browser view's one page (live.web serves it at /): self-contained, no file read, nothing fetched from
elsewhere. The video is an <img> on /stream.mjpg; the statistics, the classes seen and the timeline come as
server-sent events from /events; when they stop (the run ended, the server stopped) the page says
"disconnected" and greys the last frame. Everything from the server is set as text, never as HTML.

CSP allows exactly this page's script and style (by their SHA-256), images and events from the server itself.
"""

from __future__ import annotations

import base64
import hashlib

STYLE = """
body { margin: 0; font: 14px system-ui, sans-serif; background: #111; color: #eee; }
header { display: flex; gap: 1em; align-items: baseline; padding: .5em 1em; background: #222; }
h1 { font-size: 1.1em; margin: 0; }
#state { margin-left: auto; padding: .1em .6em; border-radius: .3em; background: #555; }
body[data-state=live] #state { background: #1a7f37; }
body[data-state=disconnected] #state { background: #b3261e; }
body[data-state=disconnected] #video { opacity: .4; filter: grayscale(1); }
main { display: flex; flex-wrap: wrap; gap: 1em; padding: 1em; }
#video { max-width: min(100%, 960px); background: #000; min-width: 320px; min-height: 180px; }
aside { flex: 1; min-width: 260px; }
h2 { font-size: 1em; margin: .8em 0 .3em; color: #aaa; }
table { border-collapse: collapse; } td, th { padding: .1em .6em; text-align: right; } td:first-child { text-align: left; }
.bar { display: inline-block; height: .7em; background: #4c8bf5; margin-left: .4em; }
ol { margin: 0; padding-left: 1.4em; max-height: 16em; overflow-y: auto; font-variant-numeric: tabular-nums; }
"""

SCRIPT = """
"use strict";
const params = new URLSearchParams(location.search);
const token = params.get("token");
const fps = Number(params.get("fps")) > 0 ? Number(params.get("fps")) : 10;
let source = params.get("source");  // null: the first source the server names
const $ = (id) => document.getElementById(id);
const url = (path, query) => {
  const parts = query.concat(token ? ["token=" + encodeURIComponent(token)] : []).filter(Boolean);
  return parts.length ? path + "?" + parts.join("&") : path;
};
const mine = (message) => source === null || message.source === source;
function startVideo() {
  $("video").src = url("stream.mjpg", ["fps=" + fps, source ? "source=" + encodeURIComponent(source) : "",
                                       "t=" + Date.now()]);
}
function setState(state) { document.body.dataset.state = state; $("state").textContent = state; }
function addRow(table, cells, tag = "td") {
  const row = table.insertRow();
  for (const text of cells) { const cell = document.createElement(tag); cell.textContent = text; row.append(cell); }
}
const fixed = (digits) => (value) => (value === undefined ? "" : Number(value).toFixed(digits));
const ROWS = [
  ["source fps", (m) => fixed(1)(m.source_fps), () => ""],
  ["analysed fps", (m) => fixed(1)(m.analysed_fps), (p) => fixed(1)(p.analysed_fps)],
  ["latency p50 ms", (m) => fixed(0)(m.latency_p50_ms), (p) => fixed(0)(p.latency_p50_ms)],
  ["latency p95 ms", (m) => fixed(0)(m.latency_p95_ms), (p) => fixed(0)(p.latency_p95_ms)],
  ["frames", (m) => String(m.frames), (p) => String(p.frames)],
  ["analysed / skipped", (m) => m.analysed + " / " + m.skipped, (p) => p.analysed + " / " + p.skipped],
  ["dropped", (m) => String(m.dropped), () => ""],
];
function showStats(m) {
  const paths = Object.entries(m.paths || {});
  const table = $("stats");
  table.replaceChildren();
  addRow(table, ["", "run", ...paths.map(([name]) => name)], "th");
  for (const [label, run, path] of ROWS) addRow(table, [label, run(m), ...paths.map(([, p]) => path(p))]);
}
function showSeen(m) {
  const box = $("seen");
  box.replaceChildren();
  for (const [path, classes] of Object.entries(m.seen)) {
    const line = document.createElement("div");
    line.textContent = path + ": " + (classes.length ? "" : "nothing");
    for (const { label, score } of classes) {
      const item = document.createElement("span");
      item.textContent = " " + label + " " + score.toFixed(2);
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = Math.round(score * 60) + "px";
      item.append(bar);
      line.append(item);
    }
    box.append(line);
  }
}
function showTimeline(m) {
  const list = $("timeline");
  list.replaceChildren();
  for (const entry of m.timeline.slice().reverse()) {
    const item = document.createElement("li");
    const minutes = Math.floor(entry.at / 60), seconds = (entry.at % 60).toFixed(1).padStart(4, "0");
    item.textContent = minutes + ":" + seconds + "  " + entry.path + ": " + entry.label +
      (entry.event === "in" ? " seen (" + entry.score.toFixed(2) + ")" : " gone");
    list.append(item);
  }
}
const events = new EventSource(url("events", []));
let lost = false;
events.onopen = () => { setState("live"); if (lost) startVideo(); lost = false; };
events.onerror = () => { setState("disconnected"); lost = true; };
const on = (name, show) => events.addEventListener(name, (event) => {
  const message = JSON.parse(event.data);
  if (mine(message)) show(message);
});
events.addEventListener("hello", (event) => {
  const sources = JSON.parse(event.data).sources;
  const chosen = sources.find((s) => s.source === source) || sources[0];
  if (chosen) { source = chosen.source; $("name").textContent = chosen.name; }
});
on("stats", showStats);
on("seen", showSeen);
on("timeline", showTimeline);
startVideo();
"""

PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>streamsee</title><style>{STYLE}</style></head>
<body data-state="connecting">
<header><h1>streamsee</h1><span id="name"></span><span id="state">connecting</span></header>
<main><img id="video" alt="the annotated video">
<aside><h2>statistics</h2><table id="stats"></table>
<h2>classes seen now</h2><div id="seen"></div>
<h2>timeline</h2><ol id="timeline"></ol></aside></main>
<script>{SCRIPT}</script>
</body></html>
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (f"default-src 'none'; script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; img-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

__all__ = ["CSP", "PAGE"]
