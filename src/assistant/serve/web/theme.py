"""The page's look: a Gradio theme with local fonts only (nothing fetched from the internet) and the chat CSS."""

from __future__ import annotations

import gradio as gr


def theme() -> gr.themes.Base:
    """Gradio's default theme in EU blue, with system fonts so the page loads nothing from outside."""
    return gr.themes.Default(
        primary_hue="blue",
        neutral_hue="slate",
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )


CSS = """
.gradio-container { max-width: 980px !important; margin: 0 auto !important; }
#cfsp-header h1 { margin: 0.2em 0 0.1em; font-size: 1.6em; }
#cfsp-header p { margin: 0.2em 0; color: var(--body-text-color-subdued); }
#cfsp-notice { font-size: 0.85em; color: var(--body-text-color-subdued); }
#cfsp-notice p { margin: 0.3em 0; }
#cfsp-chat .cfsp-user { white-space: normal; }
#cfsp-chat .cfsp-searching { display: flex; align-items: center; gap: 0.6em; color: var(--body-text-color-subdued);
    font-style: italic; }
#cfsp-chat .cfsp-spinner { width: 1em; height: 1em; border-radius: 50%; border: 2px solid var(--border-color-primary);
    border-top-color: var(--color-accent); animation: cfsp-spin 0.8s linear infinite; flex: none; }
@keyframes cfsp-spin { to { transform: rotate(360deg); } }
#cfsp-chat .cfsp-text { line-height: 1.6; margin: 0 0 0.4em; }
#cfsp-chat a.cfsp-cite { display: inline-block; font-size: 0.78em; font-weight: 600; line-height: 1.3;
    padding: 0 0.35em; margin: 0 0.1em; border-radius: 0.5em; text-decoration: none; vertical-align: 0.15em;
    color: var(--color-accent); background: rgba(37, 99, 235, 0.1); border: 1px solid rgba(37, 99, 235, 0.3); }
#cfsp-chat a.cfsp-cite:hover { background: rgba(37, 99, 235, 0.2); }
#cfsp-chat .cfsp-sources { margin-top: 0.8em; padding-top: 0.5em; border-top: 1px solid var(--border-color-primary); }
#cfsp-chat .cfsp-sources-title { font-size: 0.75em; font-weight: 700; letter-spacing: 0.08em;
    text-transform: uppercase;
    color: var(--body-text-color-subdued); margin-bottom: 0.3em; }
#cfsp-chat ol.cfsp-source-list { list-style: none; padding: 0; margin: 0; }
#cfsp-chat li.cfsp-source { margin: 0.5em 0; padding: 0.55em 0.75em; border: 1px solid var(--border-color-primary);
    border-radius: 8px; background: var(--background-fill-secondary); scroll-margin-top: 1em;
    transition: background-color 0.4s, box-shadow 0.4s; }
#cfsp-chat li.cfsp-source:target { background: rgba(250, 204, 21, 0.18);
    box-shadow: 0 0 0 2px rgba(234, 179, 8, 0.8); }
#cfsp-chat .cfsp-source-head { display: flex; flex-wrap: wrap; align-items: center; gap: 0.25em 0.6em; }
#cfsp-chat .cfsp-num { font-weight: 700; color: var(--color-accent); }
#cfsp-chat .cfsp-label { font-weight: 700; }
#cfsp-chat .cfsp-date { font-size: 0.85em; color: var(--body-text-color-subdued); }
#cfsp-chat .cfsp-badge { font-size: 0.72em; font-weight: 600; padding: 0.1em 0.55em; border-radius: 999px;
    border: 1px solid currentColor; white-space: nowrap; color: #475569; background: rgba(100, 116, 139, 0.1); }
#cfsp-chat .cfsp-kind-treaty { color: #1d4ed8; background: rgba(29, 78, 216, 0.1); }
#cfsp-chat .cfsp-kind-decision, #cfsp-chat .cfsp-kind-common-position { color: #047857;
    background: rgba(4, 120, 87, 0.1); }
#cfsp-chat .cfsp-kind-regulation, #cfsp-chat .cfsp-kind-directive { color: #7c3aed;
    background: rgba(124, 58, 237, 0.1); }
#cfsp-chat .cfsp-kind-official-summary { color: #b45309; background: rgba(180, 83, 9, 0.1); }
#cfsp-chat .cfsp-kind-agreement { color: #0e7490; background: rgba(14, 116, 144, 0.1); }
#cfsp-chat .cfsp-kind-web-page { color: #be185d; background: rgba(190, 24, 93, 0.1); }
#cfsp-chat blockquote.cfsp-quote { margin: 0.45em 0; padding: 0.1em 0 0.1em 0.75em;
    border-left: 3px solid var(--color-accent);
    font-style: normal; font-size: 0.95em; line-height: 1.5; color: var(--body-text-color); quotes: none; }
#cfsp-chat blockquote.cfsp-quote::before, #cfsp-chat blockquote.cfsp-quote::after { content: none; }
/* the quotes repeat the answer's sentences: three lines until the source is pointed at, opened by its marker or
   focused */
#cfsp-chat blockquote.cfsp-quote { display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 3;
    line-clamp: 3; overflow: hidden; }
#cfsp-chat li.cfsp-source:target blockquote.cfsp-quote, #cfsp-chat li.cfsp-source:hover blockquote.cfsp-quote,
#cfsp-chat li.cfsp-source:focus-within blockquote.cfsp-quote { -webkit-line-clamp: unset; line-clamp: none; }
#cfsp-chat details.cfsp-context { margin: 0.2em 0 0.4em; font-size: 0.9em; }
#cfsp-chat details.cfsp-context > summary { cursor: pointer; color: var(--color-accent); font-weight: 600; }
#cfsp-chat .cfsp-context-text { max-height: 22em; overflow-y: auto; margin-top: 0.4em; padding: 0.5em 0.75em;
    line-height: 1.5; border-radius: 6px; background: var(--background-fill-primary);
    border: 1px solid var(--border-color-primary); }
#cfsp-chat mark.cfsp-mark { background: rgba(250, 204, 21, 0.45); color: inherit; padding: 0 0.1em;
    border-radius: 2px; }
#cfsp-chat .cfsp-searched { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 0 0 0.4em; }
#cfsp-chat .cfsp-how { display: inline-flex; align-items: center; gap: 0.4em; font-size: 0.8em; margin: 0 0 0.5em;
  padding: 0.1em 0.6em; border-radius: 999px; color: var(--body-text-color-subdued);
  background: var(--background-fill-secondary); }
#cfsp-chat .cfsp-how-llm { color: #1d4ed8; background: rgba(29, 78, 216, 0.08); }
#cfsp-chat .cfsp-links { flex-wrap: wrap; }
#cfsp-chat .cfsp-source-foot { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 0.2em 1em;
    font-size: 0.82em; color: var(--body-text-color-subdued); }
#cfsp-chat .cfsp-links { display: flex; gap: 1em; }
#cfsp-chat a.cfsp-link { font-weight: 600; white-space: nowrap; }
#cfsp-chat .cfsp-abstain { border-left: 3px solid #d97706; padding-left: 0.75em; }
#cfsp-chat .cfsp-abstain p { margin: 0.3em 0; }
#cfsp-chat .cfsp-try { font-weight: 600; }
#cfsp-chat .cfsp-error, #cfsp-wait .cfsp-error { border-left: 3px solid #dc2626; padding-left: 0.75em; }
@media (max-width: 640px) { #cfsp-header h1 { font-size: 1.3em; } #cfsp-header p { font-size: 0.85em; } }
#cfsp-comment { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.5em; }
"""

# The widget fills its frame (with `fill_width`): no centred column, tighter margins, a one-line title.
COMPACT_CSS = """
.gradio-container { max-width: none !important; padding: 0.3em 0.5em !important; }
#cfsp-header p { margin: 0.1em 0; font-size: 0.95em; color: var(--body-text-color); }
#cfsp-notice, #cfsp-notice p { font-size: 0.8em !important; }
"""
