"""HTML for the demo, as plain format strings (no template engine dependency)."""

from __future__ import annotations

from html import escape

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Flagstone demo</title>
<style>
 body {{ font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }}
 section {{ border: 1px solid #ccc; border-radius: 6px; padding: .5rem 1rem; margin: 1rem 0; }}
 #chat-log, #feed {{ height: 10rem; overflow-y: auto; background: #f7f7f7; padding: .25rem; }}
 .error {{ color: #a00; }}
</style>
</head>
<body>
<h1>Flagstone demo</h1>
{body}
</body>
</html>
"""

LOGIN = """
<section>
<h2>Log in</h2>
<p>Any user name (letters, digits, <code>-</code>, <code>_</code>); the password is <code>flagstone</code>.</p>
{error}
<form method="post" action="{login_url}">
  <label>User <input name="username" id="username" required maxlength="32"></label>
  <label>Password <input name="password" id="password" type="password" required></label>
  <button id="login" type="submit">Log in</button>
</form>
</section>
"""

HOME = """
<p>Logged in as <strong id="user">{user}</strong>.
<form method="post" action="{logout_url}" style="display:inline"><button>Log out</button></form></p>

<section>
<h2>Chat room (WebSocket)</h2>
<div id="chat-log"></div>
<form id="chat-form">
  <input id="chat-input" autocomplete="off" maxlength="500" placeholder="Say something">
  <button id="chat-send" type="submit">Send</button>
</form>
</section>

<section>
<h2>Feed of new messages (server-sent events)</h2>
<div id="feed"></div>
</section>

<section>
<h2>Upload a file (at most {max_upload} bytes)</h2>
<form method="post" action="{upload_url}" enctype="multipart/form-data">
  <input type="file" name="file" required> <button type="submit">Upload</button>
</form>
<ul id="uploads">{uploads}</ul>
</section>

<section>
<h2>JSON API</h2>
<ul>
  <li><a href="{messages_url}">{messages_url}</a> — recent messages</li>
  <li><a href="{me_url}">{me_url}</a> — who you are</li>
</ul>
</section>

<script>
const log = document.getElementById("chat-log");
const feed = document.getElementById("feed");
function line(box, text) {{
  const p = document.createElement("div"); p.textContent = text; box.appendChild(p);
  box.scrollTop = box.scrollHeight;
}}
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const ws = new WebSocket(scheme + location.host + "{chat_path}");
ws.onopen = () => document.body.dataset.chat = "open";
ws.onmessage = (event) => {{ const m = JSON.parse(event.data); line(log, m.user + ": " + m.text); }};
document.getElementById("chat-form").onsubmit = (event) => {{
  event.preventDefault();
  const input = document.getElementById("chat-input");
  if (input.value) {{ ws.send(input.value); input.value = ""; }}
}};
const source = new EventSource("{events_url}");
source.addEventListener("open", () => document.body.dataset.feed = "open");
source.addEventListener("message", (event) => {{
  const m = JSON.parse(event.data); line(feed, "#" + m.id + " " + m.user + ": " + m.text);
}});
</script>
"""


def page(body: str) -> str:
    """Wrap `body` in the demo's page layout."""
    return PAGE.format(body=body)


def upload_items(uploads: list[dict[str, object]]) -> str:
    """The uploads list as escaped HTML items."""
    return "".join(
        f"<li>{escape(str(u['filename']))} — {u['size']} bytes, sha256 {u['sha256']}</li>"
        for u in uploads
    )
