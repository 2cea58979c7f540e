"""Checks a browser test makes on a rendered page: nothing sticks out sideways, and no character
is drawn without a glyph (tofu). Used by tests/gallery/test_pages_layout_browser.py.

Overflow: in the page, the document is no wider than the window; every visible element that does
not scroll is no wider inside than its box (`scrollWidth <= clientWidth + 1`: with overflow
`visible` its content would stick out, with `hidden` it would be cut off); and every element's box
lies inside the window. A box made to scroll on purpose (a wide table's `.matsuri-scroll` or
`.scroll` on a phone) counts as one element: what is inside it may be wider. Any other box that
would scroll sideways (Voila's and ipywidgets' boxes are overflow: auto) is a failure, since a
judge would have to scroll it to see a control. Form controls cut their own long values short on
purpose, so only their box is checked, not their content.

Glyphs: Chromium itself says which fonts it drew each element's text with (DevTools'
`CSS.getPlatformFontsForNode`, after its own per-character fallback). Those fonts are found on
disk through fontconfig (`fc-list :postscriptname=…`, the same library Chromium asks) and their
character maps read with fontTools; every character of the element's text must be in the map of
one of the fonts used for it. A character no installed font has is drawn with some font's
.notdef box, and that font's map does not have it: the check fails and names the character.
Text in <input>/<textarea> is checked too (their user-agent shadow trees are walked).
"""

from __future__ import annotations

import subprocess
import unicodedata
from functools import cache

OVERFLOW_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).slice(0, 3).join('.') : '');
  const problems = [];
  if (document.documentElement.scrollWidth > width + 1)
    problems.push(`the page is ${document.documentElement.scrollWidth} px wide in a ${width} px window`);
  for (const el of [document.body, ...document.body.querySelectorAll('*')]) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden' || el.closest('[hidden]')) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (el.parentElement && el.parentElement.closest(SCROLLS_ON_PURPOSE)) continue;
    const clips = FORM_CONTROLS.includes(el.tagName) || el.matches(SCROLLS_ON_PURPOSE);
    if (!clips && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1)
      problems.push(`${name(el)}: content ${el.scrollWidth} px wide in a ${el.clientWidth} px box`);
    if (box.left < -1 || box.right > width + 1)
      problems.push(`${name(el)}: from ${Math.round(box.left)} to ${Math.round(box.right)} px, window ${width} px`);
  }
  return problems.slice(0, 25);
}
""".replace("SCROLLS_ON_PURPOSE", repr(", ".join([".matsuri-scroll", ".scroll"]))).replace(
    "FORM_CONTROLS", repr(["SELECT", "INPUT", "TEXTAREA", "OPTION"]))

SKIPPED_TAGS = {"SCRIPT", "STYLE", "NOSCRIPT", "TITLE", "HEAD", "TEMPLATE", "svg"}
UNDRAWN = {"Cc", "Cf", "Zs", "Zl", "Zp", "Mn"}  # controls, joiners, spaces, variation selectors


@cache
def _characters(postscript_name: str) -> frozenset[int] | None:
    """The characters a font has, found by its PostScript name through fontconfig; None if unknown."""
    from fontTools.ttLib import TTFont

    found = subprocess.run(["fc-list", "-f", "%{file}|%{index}\n", f":postscriptname={postscript_name}"],
                           capture_output=True, text=True, check=True).stdout.split()
    if not found:
        return None
    path, index = found[0].rsplit("|", 1)
    font = TTFont(path, fontNumber=int(index.split(",")[0] or 0), lazy=True)
    return frozenset(font.getBestCmap())


def _texts(node, found: list) -> None:
    """(nodeId, text) for every element with text children of its own, shadow trees included."""
    if node.get("nodeName") in SKIPPED_TAGS:
        return
    children = [*node.get("children", []), *node.get("shadowRoots", [])]
    if node.get("contentDocument"):
        children.append(node["contentDocument"])
    text = "".join(c.get("nodeValue", "") for c in children if c.get("nodeType") == 3)
    if node.get("nodeType") == 1 and text.strip():
        found.append((node["nodeId"], text))
    for child in children:
        _texts(child, found)


def missing_glyphs(page) -> list[str]:
    """'<char> U+XXXX in "<text>" (fonts: …)' for every character drawn without a glyph."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        found: list = []
        _texts(cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"], found)
        problems, drawn = [], 0
        for node_id, text in found:
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node_id})["fonts"]
            if not fonts:
                continue  # not drawn (hidden, or an <option> of a closed list)
            drawn += 1
            maps = [_characters(f["postScriptName"]) for f in fonts if not f.get("isCustomFont")]
            if any(m is None for m in maps) or len(maps) < len(fonts):
                continue  # a web font fontconfig does not know: nothing to compare with
            for char in sorted(set(text)):
                if unicodedata.category(char) in UNDRAWN:
                    continue
                if not any(ord(char) in m for m in maps):
                    names = ", ".join(f["familyName"] for f in fonts)
                    problems.append(f"{char!r} U+{ord(char):04X} in {text.strip()[:60]!r} (fonts: {names})")
        assert drawn > 5, f"only {drawn} elements with drawn text were found: is the page empty?"
        return problems
    finally:
        cdp.detach()
