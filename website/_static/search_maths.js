/* Search results of the course website: the text around a hit shows maths as text
   ("√d_k"), not as the TeX the page holds for MathJax ("\(\sqrt{d_k}\)").
   Sphinx's searchtools.js makes each result's summary from the page's HTML with
   Search.htmlToText; this wraps it so that every maths element is turned into text
   first. The same rules as plain_tex() in tools/build_site.py, which writes the
   titles of the search index. Loaded with "defer", after searchtools.js. */
(function () {
  "use strict";
  const SYMBOLS = {
    approx: "≈", cdot: "·", times: "×", le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠",
    to: "→", rightarrow: "→", leftarrow: "←", infty: "∞", sum: "Σ", prod: "Π", mid: "|", in: "∈",
    ldots: "…", dots: "…", cdots: "…", sqrt: "√", propto: "∝", alpha: "α", beta: "β", gamma: "γ",
    delta: "δ", epsilon: "ε", varepsilon: "ε", theta: "θ", lambda: "λ", mu: "μ", pi: "π",
    sigma: "σ", tau: "τ", phi: "φ", Delta: "Δ", Sigma: "Σ", quad: " ", qquad: " ", left: "",
    right: "", big: "", Big: "", displaystyle: "",
  };

  function plainTex(tex) {
    let text = tex.replace(/\\[()[\]]/g, "");
    text = text.replace(/\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, "($1)/($2)");
    text = text.replace(/\\(?:text|mathrm|mathbf|mathit|operatorname|textbf|textit)\s*\{([^{}]*)\}/g, "$1");
    text = text.replace(/\\([A-Za-z]+)\s?/g, (_, name) => {
      const out = name in SYMBOLS ? SYMBOLS[name] : name;
      return out === "√" || out === "" ? out : out + " ";
    });
    text = text.replace(/\\[,;:! ]/g, " ").replace(/\\\{/g, "{").replace(/\\\}/g, "}");
    text = text.replace(/[{}]/g, "").replace(/\\/g, " ");
    return text.replace(/\s+/g, " ").trim();
  }

  function patch() {
    if (typeof Search === "undefined" || !Search.htmlToText || Search.htmlToText.glmMaths) return;
    const original = Search.htmlToText;
    const wrapped = (htmlString, anchor) => {
      const doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc.querySelectorAll(".math").forEach((el) => { el.textContent = " " + plainTex(el.textContent) + " "; });
      return original(doc.documentElement.outerHTML, anchor);
    };
    wrapped.glmMaths = true;
    Search.htmlToText = wrapped;
  }

  window.glmPlainTex = plainTex;
  patch();
  document.addEventListener("DOMContentLoaded", patch);
})();
