"""The embed script: `<script src="https://ASSISTANT/widget.js" async></script>` puts the compact chat in an iframe."""

from __future__ import annotations

WIDGET_PATH = "/widget"

# Where the script was loaded from says where the assistant is, so the same file works behind any host or prefix.
WIDGET_JS = """/* CFSP Assistant widget. Usage:
   <div id="cfsp-assistant"></div>
   <script src="https://ASSISTANT-HOST/widget.js" data-target="#cfsp-assistant" data-height="640" async></script>
   Without data-target the chat is placed right after the script tag. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) { return; }
  var base = new URL(".", script.src);
  var target = script.getAttribute("data-target");
  var holder = target ? document.querySelector(target) : null;
  var height = parseInt(script.getAttribute("data-height") || "", 10) || 640;
  var frame = document.createElement("iframe");
  frame.src = new URL("widget/", base).href;
  frame.title = script.getAttribute("data-title") || "CFSP Assistant: questions on EU foreign and security policy";
  frame.className = "cfsp-assistant-frame";
  frame.style.cssText = "display:block;width:100%;height:" + height + "px;border:1px solid #cbd5e1;" +
    "border-radius:8px;background:#fff;";
  frame.setAttribute("referrerpolicy", "strict-origin-when-cross-origin");
  if (holder) { holder.appendChild(frame); } else { script.parentNode.insertBefore(frame, script.nextSibling); }
})();
"""
