"""The browser view's one page (live.web serves it at /): self-contained, no file read, nothing fetched from
elsewhere. One panel per source the server names (its `hello` event), in a grid; ?source=ID shows that one
alone; with one source the panel takes the whole page. Each panel has the source's name, its annotated video
(an <img> on /stream.mjpg?source=ID) and, from the server-sent events on /events that carry its id, its
statistics, the classes seen now and the timeline. When the events stop (the run ended, the server stopped)
the page says "disconnected" and greys the last frames. Everything from the server is set as text, never as HTML.

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
body[data-state=disconnected] .video { opacity: .4; filter: grayscale(1); }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr)); gap: 1em; padding: 1em; }
.panel { display: flex; flex-wrap: wrap; gap: 1em; align-content: start; min-width: 0; }
.panel > .name { flex-basis: 100%; margin: 0; font-size: 1.05em; color: #eee; }
.panel:only-child > .name { display: none; }
.video { max-width: min(100%, 960px); background: #000; min-width: 320px; min-height: 180px; }
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
const only = params.get("source");  // null: every source the server names
const $ = (id) => document.getElementById(id);
const url = (path, query) => {
  const parts = query.concat(token ? ["token=" + encodeURIComponent(token)] : []).filter(Boolean);
  return parts.length ? path + "?" + parts.join("&") : path;
};
let panels = new Map();  // source id: its panel's elements
function makePanel(source) {
  const root = $("panel").content.firstElementChild.cloneNode(true);
  root.dataset.source = source;
  const part = (name) => root.querySelector("." + name);
  return { source, root, name: part("name"), video: part("video"), stats: part("stats"), seen: part("seen"),
           timeline: part("timeline") };
}
function startVideo(panel) {
  panel.video.src = url("stream.mjpg", ["fps=" + fps, "source=" + encodeURIComponent(panel.source),
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
function showStats(panel, m) {
  const paths = Object.entries(m.paths || {});
  const table = panel.stats;
  table.replaceChildren();
  addRow(table, ["", "run", ...paths.map(([name]) => name)], "th");
  for (const [label, run, path] of ROWS) addRow(table, [label, run(m), ...paths.map(([, p]) => path(p))]);
}
function showSeen(panel, m) {
  const box = panel.seen;
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
function showTimeline(panel, m) {
  const list = panel.timeline;
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
events.onopen = () => setState("live");
events.onerror = () => setState("disconnected");
const on = (name, show) => events.addEventListener(name, (event) => {
  const message = JSON.parse(event.data);
  const panel = panels.get(message.source);
  if (panel) show(panel, message);
});
// the sources, on every (re)connection: a panel for each (the one asked for alone), each video (re)started
events.addEventListener("hello", (event) => {
  const named = JSON.parse(event.data).sources;
  const shown = only === null ? named : [named.find((s) => s.source === only) || named[0]].filter(Boolean);
  const fresh = new Map();
  for (const { source, name } of shown) {
    const panel = panels.get(source) || makePanel(source);
    panel.name.textContent = name;
    fresh.set(source, panel);
    startVideo(panel);
  }
  panels = fresh;
  $("panels").replaceChildren(...[...panels.values()].map((panel) => panel.root));
  $("name").textContent = shown.length === 1 ? shown[0].name : shown.length + " sources";
});
on("stats", showStats);
on("seen", showSeen);
on("timeline", showTimeline);
"""

PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>streamsee</title><style>{STYLE}</style></head>
<body data-state="connecting">
<header><h1>streamsee</h1><span id="name"></span><span id="state">connecting</span></header>
<main id="panels"></main>
<template id="panel"><section class="panel"><h2 class="name"></h2><img class="video" alt="the annotated video">
<aside><h2>statistics</h2><table class="stats"></table>
<h2>classes seen now</h2><div class="seen"></div>
<h2>timeline</h2><ol class="timeline"></ol></aside></section></template>
<script>{SCRIPT}</script>
</body></html>
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (f"default-src 'none'; script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; img-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

__all__ = ["CSP", "PAGE"]
