// The demo's chat (WebSocket) and feed (server-sent events), served by
// StaticFiles at /static/app.js.  The page puts the URLs it needs on <body>.
"use strict";
const log = document.getElementById("chat-log");
const feed = document.getElementById("feed");
function line(box, text) {
  const p = document.createElement("div"); p.textContent = text; box.appendChild(p);
  box.scrollTop = box.scrollHeight;
}
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const ws = new WebSocket(scheme + location.host + document.body.dataset.chatPath);
ws.onopen = () => document.body.dataset.chat = "open";
ws.onmessage = (event) => { const m = JSON.parse(event.data); line(log, m.user + ": " + m.text); };
document.getElementById("chat-form").onsubmit = (event) => {
  event.preventDefault();
  const input = document.getElementById("chat-input");
  if (input.value) { ws.send(input.value); input.value = ""; }
};
const source = new EventSource(document.body.dataset.eventsUrl);
source.addEventListener("open", () => document.body.dataset.feed = "open");
source.addEventListener("message", (event) => {
  const m = JSON.parse(event.data); line(feed, "#" + m.id + " " + m.user + ": " + m.text);
});
