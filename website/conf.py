"""Sphinx configuration of the course website (built by ``tools/build_site.py``, ``make site``).

Why Sphinx with MyST-NB: both are pure Python and pip-installable, so the site
builds offline from the course's own environment; MyST-NB renders the
notebooks' stored outputs without executing anything (``nb_execution_mode =
"off"``); Sphinx brings the table of contents, previous/next links, a local
full-text search (a JavaScript index written next to the pages) and a real
glossary (``{term}`` links). The Furo theme ships its scripts, styles and
icons inside the package and uses the system fonts, so no page asks a CDN for
anything. Maths is typeset by the copy of MathJax 3.2 that the PyPI package
``django-static-mathjax`` ships (plain static files; it needs no Django),
copied into ``_static/mathjax`` by ``tools/build_site.py`` (Sphinx's default
MathJax comes from a CDN).

``tools/build_site.py`` stages the sources (the home page and the other pages from the README, the notebooks
prepared for one edition, ``glossary.md``) in a build folder and runs Sphinx
there with this file; the edition arrives as the environment variable
``GLM_SITE_EDITION`` (``self-study`` or ``student``).
"""
from __future__ import annotations

import os

EDITION = os.environ.get("GLM_SITE_EDITION", "self-study")
if EDITION not in ("self-study", "student"):
    raise ValueError(f"GLM_SITE_EDITION must be 'self-study' or 'student', got {EDITION!r}")
# The language: English (site/) or the Chinese edition (site/zh-CN/), whose search segments Chinese
# words with jieba (Sphinx's Chinese search uses it when it is installed)
LANGUAGE = os.environ.get("GLM_SITE_LANGUAGE", "en")
if LANGUAGE not in ("en", "zh-CN"):
    raise ValueError(f"GLM_SITE_LANGUAGE must be 'en' or 'zh-CN', got {LANGUAGE!r}")
ZH = LANGUAGE == "zh-CN"

project = "GPT 是如何工作的" if ZH else "How GPT works"
author = "the course authors"
copyright = "the course authors; code MIT, the plays public domain"
html_title = project + ((" （学生版）" if ZH else " (student edition)") if EDITION == "student" else "")
language = "zh_CN" if ZH else "en"

# Every page links to itself in the other language: the sites sit at site/, site/student/,
# site/zh-CN/ and site/zh-CN/student/, so the other one is this prefix away from this one's root
# (templates/sidebar/language.html)
OTHER_LANGUAGE = {
    ("en", "self-study"): ("zh-CN/", "简体中文", "zh-CN"),
    ("en", "student"): ("../zh-CN/student/", "简体中文", "zh-CN"),
    ("zh-CN", "self-study"): ("../", "English", "en"),
    ("zh-CN", "student"): ("../../student/", "English", "en"),
}[(LANGUAGE, EDITION)]
html_context = {"glm_other_prefix": OTHER_LANGUAGE[0], "glm_other_label": OTHER_LANGUAGE[1],
                "glm_other_lang": OTHER_LANGUAGE[2], "glm_this_label": "简体中文" if ZH else "English"}
templates_path = ["templates"]
if ZH:
    # the course's terms as words of their own (核采样, 因果掩码, 残差流: jieba would cut them up), written
    # by tools/build_site.py from i18n/zh_CN/terminology.tsv
    html_search_options = {"dict": os.environ.get("GLM_SITE_JIEBA_DICT", "")}
html_sidebars = {"**": ["sidebar/brand.html", "sidebar/language.html", "sidebar/search.html",
                        "sidebar/scroll-start.html", "sidebar/navigation.html", "sidebar/scroll-end.html",
                        "sidebar/variant-selector.html"]}

extensions = ["myst_nb", "sphinx.ext.mathjax"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]

# MyST: $...$ and $$...$$ maths in the notebooks' Markdown, ```{glossary} and {term}
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_update_mathjax = False  # MathJax is configured below
myst_heading_anchors = 3

# MyST-NB: show the stored outputs, never run a kernel
nb_execution_mode = "off"
nb_merge_streams = True
nb_ipywidgets_js = {}  # the explorers are saved pictures: no widget JavaScript from a CDN
# An explorer's output holds the live widget view and a PNG of its state: the picture wins here
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]

# MathJax 3, bundled (see above). Only elements Sphinx marks as maths are typeset,
# so a dollar sign in code or program output stays a dollar sign.
mathjax_path = "mathjax/tex-chtml.js"
mathjax3_config = {
    "tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]], "processEscapes": False},
    "options": {"ignoreHtmlClass": "tex2jax_ignore|highlight", "processHtmlClass": "math"},
}

html_theme = "furo"
# the staged copy (this folder's _static plus MathJax); paths here are relative to website/
html_static_path = [os.environ.get("GLM_SITE_STATIC", "_static")]
html_css_files = ["course.css"]
# search results show maths as text, not TeX (deferred: it wraps searchtools.js, loaded after it)
html_js_files = [("search_maths.js", {"defer": "defer"})]
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
html_theme_options = {"navigation_with_keys": True}


def setup(app):
    """Sphinx 9's Chinese search writes ``window.Stemmer = ChineseStemmer`` while shipping only the
    English stemmer (used for the Latin words of a Chinese page), so every search failed with
    "ChineseStemmer is not defined": name the stemmer the script defines."""
    if ZH:
        from sphinx.search.zh import SearchChinese

        class SearchChineseWithEnglishStemmer(SearchChinese):
            language_name = "English"

        app.add_search_language(SearchChineseWithEnglishStemmer)
