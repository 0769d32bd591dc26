"""An offline MyST site theme: renders the pages that ``jupyter book build --html`` asks for.

Jupyter Book 2 (mystmd) builds a static site in two halves: its engine turns the Markdown pages
and executed notebooks into MyST AST (JSON, with math already rendered by KaTeX), then it starts
a *theme* (a web server named by the ``template.yml`` of a site template), fetches every page from
it and writes the answers to ``_build/html``. The default theme is downloaded from the MyST
template service at build time, which an offline machine cannot reach; this module is a small
theme of ours that needs nothing but the standard library (plus mistune and pygments, which
JupyterLab already installs), so ``python -m sharelib site`` builds anywhere.

The theme speaks the protocol mystmd expects from a site template:

* it is started with the environment variables ``PORT`` (where to serve), ``CONTENT_CDN_PORT``
  (mystmd's content server: ``/config.json``, ``/content/<slug>.json`` and the public files) and
  ``HOST``, and it signals that it is ready by printing a line with ``http://<host>:<port>``;
* it answers ``/`` (the index page), ``/<slug>`` (each page), ``/<slug>.json`` (the page's AST),
  ``/myst-theme.css``, ``/robots.txt``, ``/sitemap.xml``, ``/sitemap_style.xsl`` and
  ``/favicon.ico``.

Every link it writes is relative and points at ``index.html`` files, so the built site can be
read from a web server or straight from the disk. Widgets are drawn from their saved state as
disabled controls (a static snapshot), with the figures and text they were showing.
"""

from __future__ import annotations

import html
import json
import os
import re
import struct
import sys
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath

__all__ = ["Renderer", "render_page", "stylesheet", "main"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# Rich outputs in the order a notebook front end prefers them.
_MIME_ORDER = ("text/html", "image/svg+xml", "image/png", "image/jpeg", "text/markdown", "text/latex", "text/plain")


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


class Renderer:
    """Turn one page's MyST AST into HTML.

    Parameters
    ----------
    page : dict
        The page JSON mystmd writes to ``_build/site/content/<slug>.json``.
    prefix : str
        The relative path from this page to the site root (``""`` for the index, ``"../"`` for a
        page at ``/<slug>/index.html``).
    locations : dict
        Source location of every page (``/notebooks/ce_dos/01_method.ipynb``) to its slug, used to
        resolve notebook links inside Markdown outputs, which mystmd leaves as raw text.
    index_slug : str
        The slug of the site's index page (it is written to the site root, not to ``/<slug>/``).
    fetch : callable, optional
        ``fetch(path) -> bytes`` for output data mystmd moved to a public file (large text).
    """

    def __init__(self, page: dict, prefix: str, locations: dict, index_slug: str, fetch=None):
        self.page = page
        self.prefix = prefix
        self.locations = locations
        self.index_slug = index_slug
        self.fetch = fetch
        self.widgets = (page.get("widgets") or {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})

    # -- links -----------------------------------------------------------------------------------
    def page_href(self, slug: str, anchor: str = "") -> str:
        """The relative link to a page (and an anchor in it)."""
        target = "index.html" if slug == self.index_slug else f"{slug}/index.html"
        return f"{self.prefix}{target}{anchor}"

    def url(self, url: str) -> str:
        """A link or image URL made relative: ``/slug`` pages and ``/file.png`` public files."""
        if not url or re.match(r"^[a-z][a-z0-9+.-]*:", url) or url.startswith("#"):
            return url
        if url.startswith("/"):
            path, _, anchor = url[1:].partition("#")
            anchor = f"#{anchor}" if anchor else ""
            if "." in PurePosixPath(path).name:  # a file mystmd copied to the public folder
                return f"{self.prefix}build/{path}{anchor}"
            return self.page_href(path or self.index_slug, anchor)
        return url

    def notebook_link(self, href: str) -> str:
        """A relative ``*.ipynb`` link in a Markdown output, resolved to its page when it is one."""
        path, _, anchor = href.partition("#")
        if re.match(r"^[a-z][a-z0-9+.-]*:", href) or not path.endswith(".ipynb"):
            return href
        here = PurePosixPath(self.page.get("location") or "/").parent
        parts = []
        for part in (here / path).parts:
            if part == "..":
                parts = parts[:-1]
            elif part not in (".", "/"):
                parts.append(part)
        slug = self.locations.get("/" + "/".join(parts))
        return self.page_href(slug, f"#{anchor}" if anchor else "") if slug else href

    # -- nodes -----------------------------------------------------------------------------------
    def children(self, node: dict) -> str:
        return "".join(self.node(c) for c in node.get("children") or [])

    def node(self, node: dict) -> str:  # noqa: C901 - one branch per node type, flat on purpose
        t = node.get("type")
        kids = self.children
        if t in ("root", "block"):
            cls = "cell code-cell" if node.get("kind") == "notebook-code" else "cell"
            return f'<div class="{cls}">{kids(node)}</div>' if t == "block" else kids(node)
        if t == "text":
            return _esc(node.get("value", ""))
        if t == "paragraph":
            return f"<p>{kids(node)}</p>"
        if t == "heading":
            depth = min(max(int(node.get("depth", 2)), 1), 6)
            ident = node.get("html_id") or node.get("identifier") or ""
            attr = f' id="{_esc(ident)}"' if ident else ""
            return f"<h{depth}{attr}>{kids(node)}</h{depth}>"
        if t in ("strong", "emphasis", "superscript", "subscript", "delete", "underline", "smallcaps"):
            tag = {"strong": "strong", "emphasis": "em", "superscript": "sup", "subscript": "sub",
                   "delete": "del", "underline": "u", "smallcaps": "span"}[t]
            return f"<{tag}>{kids(node)}</{tag}>"
        if t == "inlineCode":
            return f"<code>{_esc(node.get('value', ''))}</code>"
        if t == "code":
            return self.code(node)
        if t in ("inlineMath", "math"):
            rendered = node.get("html") or _esc(node.get("value", ""))
            return f'<div class="math">{rendered}</div>' if t == "math" else rendered
        if t == "link":
            return f'<a href="{_esc(self.url(node.get("url", "")))}">{kids(node)}</a>'
        if t == "image":
            alt = node.get("alt") or ""
            return f'<img src="{_esc(self.url(node.get("url", "")))}" alt="{_esc(alt)}">'
        if t == "list":
            tag = "ol" if node.get("ordered") else "ul"
            start = f' start="{int(node["start"])}"' if node.get("ordered") and node.get("start") not in (None, 1) else ""
            return f"<{tag}{start}>{kids(node)}</{tag}>"
        if t == "listItem":
            return f"<li>{kids(node)}</li>"
        if t == "table":
            return f'<div class="table-wrap"><table>{kids(node)}</table></div>'
        if t == "tableRow":
            return f"<tr>{kids(node)}</tr>"
        if t == "tableCell":
            tag = "th" if node.get("header") else "td"
            align = f' style="text-align:{node["align"]}"' if node.get("align") else ""
            return f"<{tag}{align}>{kids(node)}</{tag}>"
        if t == "thematicBreak":
            return "<hr>"
        if t == "break":
            return "<br>"
        if t == "blockquote":
            return f"<blockquote>{kids(node)}</blockquote>"
        if t == "admonition":
            kind = re.sub(r"[^a-z]", "", str(node.get("kind", "note")).lower()) or "note"
            return f'<aside class="admonition {kind}">{kids(node)}</aside>'
        if t == "admonitionTitle":
            return f'<p class="admonition-title">{kids(node)}</p>'
        if t in ("container", "figure"):
            return f"<figure>{kids(node)}</figure>"
        if t in ("caption", "legend"):
            return f"<figcaption>{kids(node)}</figcaption>"
        if t == "html":
            return node.get("value", "")
        if t == "outputs":
            return f'<div class="outputs">{kids(node)}</div>'
        if t == "output":
            return self.output(node.get("jupyter_data") or {})
        if t in ("comment", "mystComment", "footnoteDefinition"):
            return ""
        if t == "crossReference":
            return f'<a href="{_esc(self.url(node.get("url", "")))}">{kids(node)}</a>'
        if node.get("children"):
            return kids(node)
        return _esc(node.get("value", ""))

    def code(self, node: dict) -> str:
        """A code block, highlighted; notebook cells are folded so figures and verdicts lead."""
        source = node.get("value", "")
        lang = node.get("lang") or ""
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import get_lexer_by_name
            from pygments.util import ClassNotFound

            try:
                lexer = get_lexer_by_name(lang or "text")
            except ClassNotFound:
                lexer = get_lexer_by_name("text")
            body = highlight(source, lexer, HtmlFormatter(nowrap=True))
        except ImportError:  # pygments comes with JupyterLab; plain text is still readable
            body = _esc(source)
        block = f'<pre class="highlight"><code>{body}</code></pre>'
        if node.get("executable"):
            first = next((ln for ln in source.splitlines() if ln.strip()), "")
            summary = _esc(first[:90]) if first else "code"
            return f'<details class="source"><summary><code>{summary}</code></summary>{block}</details>'
        return block

    # -- outputs ---------------------------------------------------------------------------------
    def _content(self, item: dict) -> str:
        if "content" in item:
            return item["content"]
        if item.get("path") and self.fetch is not None:
            return self.fetch(item["path"]).decode("utf-8", "replace")
        return ""

    def output(self, out: dict) -> str:
        kind = out.get("output_type")
        if kind == "stream":
            cls = "stderr" if out.get("name") == "stderr" else "stdout"
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            return f'<pre class="output {cls}">{_esc(_ANSI.sub("", text))}</pre>'
        if kind == "error":
            tb = "\n".join(_ANSI.sub("", line) for line in out.get("traceback") or [])
            return f'<pre class="output error">{_esc(tb or (out.get("ename", "") + ": " + out.get("evalue", "")))}</pre>'
        data = out.get("data") or {}
        if _WIDGET_MIME in data:
            try:
                model = json.loads(self._content(data[_WIDGET_MIME])).get("model_id")
            except (ValueError, AttributeError):
                model = None
            if model in self.widgets:
                return f'<div class="widget-snapshot">{self.widget(model)}</div>'
        for mime in _MIME_ORDER:
            if mime in data:
                return self.mime(mime, data[mime])
        return ""

    def mime(self, mime: str, item: dict) -> str:
        if mime.startswith("image/"):
            if item.get("path"):
                src = self.url(item["path"])
            else:
                payload = self._content(item)
                src = f"data:{mime};base64,{payload}" if mime != "image/svg+xml" else None
                if src is None:
                    return f'<div class="output">{payload}</div>'
            return f'<div class="output"><img src="{_esc(src)}" alt="figure"></div>'
        text = self._content(item)
        if mime == "text/html":
            return f'<div class="output html">{text}</div>'
        if mime == "text/markdown":
            try:
                import mistune

                rendered = mistune.html(text)
            except ImportError:
                return f'<pre class="output">{_esc(text)}</pre>'
            rendered = re.sub(r'href="([^"]+)"', lambda m: f'href="{_esc(self.notebook_link(html.unescape(m.group(1))))}"',
                              rendered)
            return f'<div class="output markdown">{rendered}</div>'
        return f'<pre class="output">{_esc(_ANSI.sub("", text))}</pre>'

    def widget(self, model_id: str, depth: int = 0) -> str:
        """A widget drawn from its saved state as disabled controls, with its outputs."""
        if depth > 20 or model_id not in self.widgets:
            return ""
        state = self.widgets[model_id].get("state", {})
        name = self.widgets[model_id].get("model_name", "")
        desc = _esc(state.get("description") or "")
        label = f"<span>{desc}</span>" if desc else ""
        child_ids = [c[len("IPY_MODEL_"):] for c in state.get("children") or [] if str(c).startswith("IPY_MODEL_")]
        if child_ids:
            inner = "".join(self.widget(c, depth + 1) for c in child_ids)
            cls = "hbox" if name.startswith(("HBox", "GridBox")) else "vbox"
            return f'<div class="{cls}">{inner}</div>'
        if name == "OutputModel":
            return "".join(self.output(o) for o in state.get("outputs") or [])
        if "Slider" in name:
            value = state.get("value")
            lo, hi = state.get("min", 0), state.get("max", 100)
            if isinstance(value, list):  # range sliders
                shown = " to ".join(str(v) for v in value)
                value = value[0]
            else:
                options = state.get("_options_labels")
                shown = options[state.get("index", 0)] if options else value
                if options:
                    lo, hi, value = 0, len(options) - 1, state.get("index", 0)
            return (f'<label class="control">{label}<input type="range" disabled min="{_esc(lo)}" max="{_esc(hi)}" '
                    f'value="{_esc(value)}"><output>{_esc(shown)}</output></label>')
        if name in ("DropdownModel", "SelectModel", "RadioButtonsModel", "ToggleButtonsModel"):
            options = state.get("_options_labels") or []
            index = state.get("index")
            opts = "".join(f'<option{" selected" if k == index else ""}>{_esc(o)}</option>' for k, o in enumerate(options))
            return f'<label class="control">{label}<select disabled>{opts}</select></label>'
        if name in ("ButtonModel",):
            return f'<button disabled>{desc or "Run"}</button>'
        if name in ("CheckboxModel", "ToggleButtonModel"):
            checked = " checked" if state.get("value") else ""
            return f'<label class="control"><input type="checkbox" disabled{checked}>{desc}</label>'
        if name in ("LabelModel", "HTMLModel", "HTMLMathModel"):
            value = state.get("value", "")
            return f'<div class="control">{value if name != "LabelModel" else _esc(value)}</div>'
        if "value" in state:  # text boxes, number fields...
            return f'<label class="control">{label}<input disabled value="{_esc(state["value"])}"></label>'
        return ""


def _nav(config: dict, current: str, prefix: str, index_slug: str) -> str:
    """The sidebar: the table of contents mystmd resolved (``pages`` with their levels)."""
    project = (config.get("projects") or [{}])[0]
    items = [f'<li class="level-1"><a href="{prefix}index.html"{" class=current" if current == index_slug else ""}>'
             f'{_esc(project.get("title", "Home"))}</a></li>']
    for page in project.get("pages") or []:
        level = min(int(page.get("level", 1)), 3)
        title = _esc(page.get("title", ""))
        slug = page.get("slug")
        if not slug:
            items.append(f'<li class="section level-{level}">{title}</li>')
            continue
        cls = " class=current" if slug == current else ""
        items.append(f'<li class="level-{level}"><a href="{prefix}{slug}/index.html"{cls}>{title}</a></li>')
    return '<nav class="toc"><ul>' + "".join(items) + "</ul></nav>"


def render_page(config: dict, page: dict, locations: dict, fetch=None) -> str:
    """The full HTML document of one page: sidebar, title and the rendered AST."""
    project = (config.get("projects") or [{}])[0]
    index_slug = project.get("index", "index")
    slug = page.get("slug", index_slug)
    prefix = "" if slug == index_slug else "../"
    body = Renderer(page, prefix, locations, index_slug, fetch).node(page.get("mdast") or {})
    front = page.get("frontmatter") or {}
    title = front.get("title") or slug
    site_title = project.get("title", "")
    heading = "" if front.get("content_includes_title") else f"<h1>{_esc(title)}</h1>"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}{' - ' + _esc(site_title) if site_title and title != site_title else ''}</title>"
        f'<link rel="stylesheet" href="{prefix}myst-theme.css"><link rel="icon" href="{prefix}favicon.ico"></head>'
        f'<body><header><a href="{prefix}index.html">{_esc(site_title)}</a></header>'
        f'<div class="layout">{_nav(config, slug, prefix, index_slug)}'
        f'<main><article>{heading}{body}</article>'
        '<footer>Built with Jupyter Book 2 (mystmd) and sharelib\'s offline theme from the executed notebooks.</footer>'
        "</main></div></body></html>\n"
    )


def stylesheet() -> str:
    """The site's CSS (served as ``/myst-theme.css``), with pygments' colours for code."""
    css = """
:root { --fg: #1d232b; --muted: #5b6572; --line: #dfe3e8; --accent: #2b6cb0; --bg-soft: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); }
header { padding: 0.7rem 1.5rem; border-bottom: 1px solid var(--line); font-weight: 600; }
header a { color: var(--fg); text-decoration: none; }
.layout { display: flex; align-items: flex-start; }
nav.toc { flex: 0 0 19rem; position: sticky; top: 0; max-height: 100vh; overflow-y: auto; padding: 1rem 0.8rem;
  border-right: 1px solid var(--line); font-size: 0.88rem; }
nav.toc ul { list-style: none; margin: 0; padding: 0; }
nav.toc li { margin: 0.1rem 0; }
nav.toc li.section { margin-top: 0.9rem; font-weight: 600; color: var(--muted); text-transform: uppercase;
  font-size: 0.75rem; letter-spacing: 0.04em; }
nav.toc li.level-2 { padding-left: 0.8rem; } nav.toc li.level-3 { padding-left: 1.6rem; }
nav.toc a { color: var(--fg); text-decoration: none; display: block; padding: 0.15rem 0.4rem; border-radius: 4px; }
nav.toc a:hover { background: var(--bg-soft); } nav.toc a.current { background: #e6eef8; color: var(--accent); }
main { flex: 1 1 auto; min-width: 0; padding: 1.2rem 2.5rem 3rem; }
article { max-width: 62rem; }
h1 { font-size: 1.9rem; line-height: 1.25; } h2 { margin-top: 2rem; border-bottom: 1px solid var(--line); }
a { color: var(--accent); }
code { font: 0.88em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--bg-soft);
  padding: 0.05em 0.25em; border-radius: 3px; }
pre { background: var(--bg-soft); padding: 0.7rem 0.9rem; overflow-x: auto; border-radius: 5px; font-size: 0.85rem; }
pre code { background: none; padding: 0; }
.table-wrap { overflow-x: auto; } table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid var(--line); padding: 0.3rem 0.55rem; vertical-align: top; text-align: left; }
th { background: var(--bg-soft); }
details.source { margin: 0.6rem 0 0.3rem; } details.source > summary { cursor: pointer; color: var(--muted); font-size: 0.85rem; }
details.source > summary code { background: none; }
.outputs { margin: 0.3rem 0 1rem; } .output img, article img { max-width: 100%; height: auto; }
pre.output { background: #fff; border: 1px solid var(--line); } pre.stderr { background: #fff8e6; }
pre.error { background: #fdecea; }
aside.admonition { border-left: 4px solid var(--accent); background: #eef4fb; padding: 0.4rem 1rem; margin: 1rem 0; border-radius: 4px; }
aside.admonition.warning, aside.admonition.caution { border-color: #c77700; background: #fff6e5; }
aside.admonition.tip, aside.admonition.hint { border-color: #2f855a; background: #eefaf2; }
.admonition-title { font-weight: 600; margin: 0.3rem 0; }
.widget-snapshot { border: 1px dashed var(--line); padding: 0.5rem 0.8rem; border-radius: 6px; margin: 0.5rem 0; }
.widget-snapshot .hbox { display: flex; flex-wrap: wrap; gap: 0.8rem; align-items: center; }
.widget-snapshot .control { display: inline-flex; gap: 0.5rem; align-items: center; margin: 0.2rem 0.8rem 0.2rem 0; font-size: 0.9rem; }
.math { overflow-x: auto; text-align: center; margin: 0.8rem 0; }
.katex-html { display: none; } /* KaTeX's CSS and fonts are not bundled offline: show its MathML */
footer { margin-top: 3rem; color: var(--muted); font-size: 0.8rem; border-top: 1px solid var(--line); padding-top: 0.6rem; }
@media (max-width: 900px) { .layout { display: block; } nav.toc { position: static; max-height: none; border: 0; } main { padding: 1rem; } }
"""
    try:
        from pygments.formatters import HtmlFormatter

        css += HtmlFormatter().get_style_defs(".highlight")
    except ImportError:
        pass
    return css


def _favicon() -> bytes:
    """A 16x16 PNG in the site's accent colour (browsers take PNG data for ``favicon.ico``)."""
    row = b"\x00" + bytes((43, 108, 176)) * 16
    raw = zlib.compress(row * 16)

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def _handler(content_url: str):
    def fetch(path: str) -> bytes:
        with urllib.request.urlopen(f"{content_url}/{path.lstrip('/')}", timeout=60) as resp:
            return resp.read()

    state: dict = {}

    def site():
        # The content does not change during a static build: read the config and pages once.
        if not state:
            config = json.loads(fetch("config.json"))
            project = (config.get("projects") or [{}])[0]
            slugs = [project.get("index", "index")] + [p["slug"] for p in project.get("pages") or [] if p.get("slug")]
            pages = {s: json.loads(fetch(f"content/{s}.json")) for s in slugs}
            state.update(config=config, pages=pages,
                         locations={p.get("location"): s for s, p in pages.items() if p.get("location")})
        return state

    class Handler(BaseHTTPRequestHandler):
        def send(self, body, content_type="text/html; charset=utf-8", status=200):
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - the http.server API
            path = self.path.split("?", 1)[0].strip("/")
            try:
                s = site()
                index = s["config"]["projects"][0].get("index", "index")
                if path == "myst-theme.css":
                    return self.send(stylesheet(), "text/css; charset=utf-8")
                if path == "favicon.ico":
                    return self.send(_favicon(), "image/png")
                if path == "robots.txt":
                    return self.send("User-agent: *\nAllow: /\n", "text/plain; charset=utf-8")
                if path == "sitemap.xml":
                    urls = "".join(f"<url><loc>/{'' if k == index else k + '/'}</loc></url>" for k in s["pages"])
                    return self.send('<?xml version="1.0" encoding="UTF-8"?>'
                                     f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
                                     "application/xml")
                if path == "sitemap_style.xsl":
                    return self.send('<?xml version="1.0"?><xsl:stylesheet version="1.0" '
                                     'xmlns:xsl="http://www.w3.org/1999/XSL/Transform"/>', "application/xml")
                if path.endswith(".json") and path[:-5] in s["pages"]:
                    return self.send(json.dumps(s["pages"][path[:-5]]), "application/json")
                slug = path or index
                if slug in s["pages"]:
                    return self.send(render_page(s["config"], s["pages"][slug], s["locations"], fetch))
                return self.send(f"not found: /{path}", "text/plain; charset=utf-8", 404)
            except Exception as exc:  # noqa: BLE001 - report to mystmd's log instead of hanging up
                return self.send(f"{type(exc).__name__}: {exc}", "text/plain; charset=utf-8", 500)

        def log_message(self, *args):  # mystmd prints our stdout as its log: keep it quiet
            pass

    return Handler


def main() -> int:
    """Serve the theme as mystmd starts it: ``PORT``, ``HOST`` and ``CONTENT_CDN_PORT`` from the environment."""
    host = os.environ.get("HOST", "localhost")
    port = int(os.environ["PORT"])
    content = f"http://{host}:{int(os.environ['CONTENT_CDN_PORT'])}"
    server = ThreadingHTTPServer((host, port), _handler(content))
    print(f"sharelib theme listening on http://{host}:{port}", flush=True)  # mystmd waits for this line
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
